// Port scans across the captures of one session: the agent opens a capture per pod, so a source
// that probes one port on each of twenty pods shows each capture's Detector one target a second
// and none of them fires. The Detectors of a session's captures hand their probes (SYNs, SYN/ACKs,
// UDP towards a lower port) to one ScanGroup instead of judging them alone; it runs port_scan for
// the whole session (alert ids "S1", "S2", ...) and its alerts leave through the capture whose
// packet (or idle tick) made them. A probe seen by two captures (pod to pod on one node) counts
// once as a target: targets are a set per second, and SYNs and their answers double alike.
// Evidence: each member capture's recorder is asked for a file of its own packets (its ring) when
// a group alert fires, named after the alert; the alert line names the reporting capture's file.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "analysis/records.h"
#include "decode/decode.h"
#include "detection/detect_config.h"
#include "detection/detector.h"
#include "detection/evidence_sink.h"

namespace podspan {

class ScanGroup {
 public:
  explicit ScanGroup(const DetectConfig& config);

  // A capture's Detector joins when it is given the group and leaves when its capture finishes;
  // when the last one leaves, the group's alerts still firing clear ("capture_end") into `made`.
  void join();
  void leave(std::vector<AlertRecord>& made);

  // From any member's capture thread. Alerts the call makes are appended to `made`.
  void on_tcp_packet(const Decoded& d, uint64_t ts, std::vector<AlertRecord>& made);
  void on_udp(const Decoded& d, uint64_t ts, std::vector<AlertRecord>& made);
  void advance_idle(uint64_t now, std::vector<AlertRecord>& made);

  // Evidence requests of the group's alerts, numbered from 1. A member remembers the last it took
  // and asks for the newer ones (at most kKeptTriggers are kept: older ones it missed are lost).
  struct Trigger {
    uint64_t seq = 0;
    std::string name, comment;
    uint64_t alert_ts = 0;
  };
  static constexpr size_t kKeptTriggers = 16;
  uint64_t trigger_count() const { return triggers_made_.load(std::memory_order_acquire); }
  void triggers_after(uint64_t seq, std::vector<Trigger>& out) const;

  DetectStats stats() const;

 private:
  // The group's Detector asks here on fire: the request is kept for the members.
  class Requests : public EvidenceSink {
   public:
    explicit Requests(ScanGroup& g) : g_(g) {}
    std::string trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) override;

   private:
    ScanGroup& g_;
  };
  // Hands the group Detector's alerts to the calling member's vector.
  class Collect : public RecordSink {
   public:
    void flow(const FlowRecord&) override {}
    void http(const HttpRecord&) override {}
    void dns(const DnsRecord&) override {}
    void alert(const AlertRecord& r) override {
      if (to) to->push_back(r);
    }
    std::vector<AlertRecord>* to = nullptr;
  };
  template <class Fn>
  void locked(std::vector<AlertRecord>& made, Fn&& fn);

  mutable std::mutex mu_;
  Collect collect_;
  Requests requests_{*this};
  Detector detector_;
  uint32_t members_ = 0;
  std::deque<Trigger> triggers_;
  std::atomic<uint64_t> triggers_made_{0};
};

}  // namespace podspan
