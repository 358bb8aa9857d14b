// What the Detector calls when an alert fires to keep the packets that show it. EvidenceRecorder
// (detection/evidence.h) implements it: a bounded ring of recent frames written to a pcapng.
#pragma once

#include <cstdint>
#include <string>

namespace podspan {

class EvidenceSink {                      // what the Detector calls (in detection/evidence_sink.h)
 public:
  virtual ~EvidenceSink() = default;
  // Starts a recording of the ring's packets from (alert_ts - pre_trigger) on, and of every packet
  // until alert_ts + post_trigger; `name` is a file-name-safe stem ("A3-syn_flood"); `comment` goes
  // into the pcapng (SHB comment, and an EPB comment on the first packet at or after alert_ts).
  // Returns the file's name relative to the options' dir's parent ("evidence/A3-syn_flood.pcapng")
  // or "" when refused (caps) or the file could not be created (counted; never throws).
  virtual std::string trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) = 0;
};

}  // namespace podspan
