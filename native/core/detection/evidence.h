// The flight recorder (issue 14): every frame goes into a bounded ring (detection/packet_ring.h);
// when the Detector raises an alert, trigger() opens a pcapng holding the ring's frames from
// pre_trigger_ns before the alert and then every further frame until post_trigger_ns after it.
// All of it runs on the capture thread; nothing here throws or allocates per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/packet.h"
#include "detection/evidence_sink.h"
#include "detection/packet_ring.h"

namespace podspan {

class CaptureWriter;

struct EvidenceOptions {
  std::string dir;                                  // evidence files go here (created if missing)
  uint64_t pre_trigger_ns = 10'000'000'000ull;      // preTriggerSeconds
  size_t ring_bytes = size_t{64} << 20;             // preTriggerMB: the ring's memory cap, allocated once
  uint64_t post_trigger_ns = 10'000'000'000ull;     // packets after the alert go on into the file this long
  uint32_t max_files = 32;                          // per run; more triggers are refused (counted)
  uint32_t max_open = 4;                            // recordings open at once; more refused (counted)
  uint64_t max_file_bytes = uint64_t{256} << 20;    // a recording stops (file closed, valid) before passing this
  SectionInfo section;                              // SHB options (os, userappl); the comment is per file
};

struct EvidenceStats {
  uint64_t ring_packets = 0, ring_bytes = 0;  // held now (ring_bytes: of the cap, headers included)
  uint64_t ring_overwritten = 0;  // packets pushed out by the memory cap while younger than pre_trigger_ns ("drops")
  // packets_written: handed to files (after a write error, those not yet on disk are lost:
  // write_errors); bytes_written: file bytes (a failed write's cut included).
  uint64_t files = 0, refused = 0, packets_written = 0, bytes_written = 0, truncated_files = 0;
  // Beyond the shared contract:
  uint64_t ring_span_ns = 0;   // first packet held to the latest: the pre-trigger time the ring really covers
  uint64_t ring_too_big = 0;   // frames larger than the whole ring: never held (still written to open recordings)
  uint64_t failed = 0;         // triggers whose file could not be made (name not file-safe, no dir, file exists)
  uint64_t write_errors = 0;   // recordings ended early by a failed write (file valid up to the last block on disk)
  uint64_t undeclared = 0;     // frames of an interface never passed to add_interface (ignored)
  uint64_t open = 0;           // recordings open now
};

class EvidenceRecorder : public EvidenceSink {
 public:
  explicit EvidenceRecorder(EvidenceOptions options);  // allocates the ring once
  ~EvidenceRecorder() override;                        // finish()

  void add_interface(const InterfaceInfo& info);
  // A file read by mapping: frames inside it are held in the ring by address, not copied.
  void input_is_stable(const uint8_t* begin, size_t len) { ring_.set_stable(begin, len); }
  // Every frame, on the capture thread: appended to each open recording, then held in the ring.
  // Call it before the analyser sees the frame, so that a trigger the frame raises finds it here.
  void record(const PacketRecord& rec, const uint8_t* bytes);
  // `name`: letters, digits, '.', '_', '-' (not starting with '.'); anything else is refused as a
  // failure. Files are created exclusively, never over another: when <name>.pcapng is there
  // already (a run before this one in the same dir), the file is <name>-2.pcapng (-3, ... -100),
  // and the name returned says which.
  std::string trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) override;
  // Hands what the open recordings buffered to the kernel: their files then read as valid
  // captures up to here (pcapng needs no trailer). Recordings end only with packet time, so call
  // it now and then (after each dispatched batch) for a recording whose traffic went quiet to be
  // on disk. A failed write ends that recording (write_errors).
  void flush();
  // Live capture with no packet for a while: recordings whose end time (by the wall clock, `now`)
  // has passed are closed, the rest flushed, so an idle capture frees its recording slots.
  void advance_idle(uint64_t now);
  void finish();  // closes the open recordings (valid files); the recorder stays usable
  EvidenceStats stats() const;

 private:
  struct Recording {
    std::unique_ptr<CaptureWriter> writer;
    std::string comment;  // for the EPB of the first packet at or after alert_ts
    uint64_t alert_ts = 0, end_ts = 0;
    bool commented = false;
  };
  enum class End { kDone, kTruncated, kWriteError };

  // Writes one frame into a recording; false when the recording ended here (and was closed).
  bool append(Recording& r, const PacketRecord& rec, const uint8_t* bytes);
  void close(Recording& r, End how);
  bool flush(Recording& r);  // false when the write failed (the recording is then closed)
  // Creates the file (see trigger: `stem` is the name it got), its section header on disk;
  // throws CaptureError when no file can be made.
  std::unique_ptr<CaptureWriter> create_file(const std::string& name, const std::string& comment, std::string& stem);
  // Calls still_open(recording) for each open one, dropping those it ended (it closed them).
  template <typename Fn>
  void keep_open_if(Fn&& still_open);
  // The frame with the recording's comment as its first packet option, in scratch_.
  const uint8_t* with_comment(const Recording& r, const PacketRecord& rec, const uint8_t* bytes, PacketRecord& out);

  EvidenceOptions opt_;
  PacketRing ring_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<Recording> open_;  // capacity max_open, reserved once
  std::vector<uint8_t> scratch_;
  uint64_t files_ = 0, refused_ = 0, packets_written_ = 0, closed_bytes_ = 0, truncated_ = 0;
  uint64_t failed_ = 0, write_errors_ = 0, undeclared_ = 0;
};

}  // namespace podspan
