// Records to JavaScript: a RecordSink that keeps each record in the current batch in compact form
// (record_batch.h: its numbers, its strings in the batch's arena) and hands full or old batches
// over through a bounded queue; take() formats a batch as JSON lines and rows on the taker's
// thread, so the capture thread never formats. Reading a file waits for room; live capture never
// blocks: while the queue is full, records are dropped and counted (a record is small; the next
// batch starts once there is room). AnalysisConsumer puts the Analyzer and the queue together for
// a capture session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analysis/analyzer.h"
#include "analysis/record_batch.h"
#include "analysis/records.h"
#include "common/batch_queue.h"
#include "common/packet.h"
#include "detection/detect_config.h"
#include "detection/detecting_sink.h"
#include "detection/detector.h"
#include "detection/evidence.h"
#include "detection/scan_group.h"

namespace podspan {

struct RecordQueueOptions {
  bool wait_for_room = false;  // reading a file: block instead of dropping
  size_t batch_max_bytes = 1 << 20;  // of compact records (CompactBatch::bytes), not of JSON
  size_t queue_max_batches = 16;
  uint32_t flush_ms = 200;     // a partial batch goes out once this old
};

struct RecordQueueStats {
  uint64_t flows = 0, http = 0, dns = 0, alerts = 0;  // records handed over
  uint64_t batches = 0;
  uint64_t dropped_records = 0;           // live: no room in the queue
};

class RecordQueue : public RecordSink {
 public:
  explicit RecordQueue(RecordQueueOptions options);

  void set_on_ready(std::function<void()> on_ready) { on_ready_ = std::move(on_ready); }
  void flow(const FlowRecord& r) override;
  void http(const HttpRecord& r) override;
  void http_parts(const HttpNumbers& n, const HttpTexts& t) override;
  void dns(const DnsRecord& r) override;
  // Alerts are never dropped (they are few: each key fires at most once per min_seconds).
  void alert(const AlertRecord& r) override;

  // The producer's thread: pushes the current batch when full, older than flush_ms, or forced
  // (the end: the last batch may exceed the cap by one so nothing is lost at the end).
  void maybe_push(bool force);
  // Any thread (one at a time): the oldest ready batch, formatted into out; false if none.
  bool take(RecordBatch& out);
  // The same appended to the sinks (empty ones), `counts` its records of each kind.
  bool take(RecordSinks& out, RecordBatch::Counts& counts);
  // The consumer is gone: stop waiting and discard from now on.
  void abandon() { queue_.abandon(); }
  RecordQueueStats stats() const;

 private:
  bool room_for_record();  // false: live and overflowing, drop it
  void counted();
  template <typename Format>
  bool take_formatted(Format format);  // the oldest batch through format(), then its buffers back

  RecordQueueOptions opt_;
  CompactBatch current_;
  uint64_t current_started_ms_ = 0;
  std::function<void()> on_ready_;
  BatchQueue<CompactBatch> queue_;
  bool overflow_ = false;  // live: the queue was full at the last push
  mutable std::mutex mu_;
  RecordQueueStats counters_;  // guarded by mu_
};

// A capture session's analytics: the Analyzer on the capture thread writing into a RecordQueue.
// The application analyser (HTTP, DNS) is built in when analysis/app_analyzer.h is part of the
// core; without it only flow records are made.
struct AnalysisOptions {
  AnalyzerOptions analyzer;
  RecordQueueOptions queue;
  // false: connection records only, no payload parsed (no HTTP, gRPC or DNS records; a flow's
  // `app` null): what a capture file's storage index needs, at a fraction of the CPU.
  bool app = true;
  bool detect = false;  // run the Detector (detection/detector.h) with detect_config
  DetectConfig detect_config;
  bool evidence = false;  // with detect: keep the pre-trigger ring and write evidence files
  EvidenceOptions evidence_options;
  // With detect: the session's port_scan is judged by this group, shared with its other captures.
  std::shared_ptr<ScanGroup> scan_group;
};

struct AnalysisStats {
  AnalyzerStats analyzer;
  RecordQueueStats queue;
  bool app = false;  // the application analyser is built in
  std::vector<std::pair<const char*, uint64_t>> app_counters;  // its counters by name (AppEvents::counters)
  bool detect = false;  // the Detector runs
  DetectStats detect_stats;
  bool evidence = false;  // the EvidenceRecorder runs
  EvidenceStats evidence_stats;
};

class AnalysisConsumer : public PacketConsumer {
 public:
  explicit AnalysisConsumer(AnalysisOptions options);
  ~AnalysisConsumer() override;

  void set_on_ready(std::function<void()> on_ready) { queue_.set_on_ready(std::move(on_ready)); }
  void add_interface(const InterfaceInfo& info) override {
    analyzer_->add_interface(info);
    if (evidence_) evidence_->add_interface(info);
  }
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  void dispatched() override;
  void input_is_stable(const uint8_t* begin, size_t len) override {
    analyzer_->input_is_stable(begin, len);
    if (evidence_) evidence_->input_is_stable(begin, len);
  }
  void finish() override;

  // The consumer's thread: the oldest ready batch, formatted into out (RecordQueue::take).
  bool take(RecordBatch& out) { return queue_.take(out); }
  bool take(RecordSinks& out, RecordBatch::Counts& counts) { return queue_.take(out, counts); }
  void abandon() { queue_.abandon(); }
  AnalysisStats stats() const;  // any thread (the analyser's counters as of the last publish)
  // The Detector when options.detect (null otherwise): an EvidenceSink is set on it before capture.
  Detector* detector() { return detector_.get(); }

 private:
  void publish();

  RecordQueue queue_;
  const bool reading_file_;                  // a file: capture time is the packets' only
  std::shared_ptr<ScanGroup> scan_group_;    // outlives the detector, which leaves it at finish
  std::unique_ptr<Detector> detector_;       // when options.detect
  std::unique_ptr<DetectingSink> detecting_;  // the analysers' sink then (before the queue)
  std::unique_ptr<EvidenceRecorder> evidence_;  // when options.evidence (and detect)
  std::unique_ptr<AppEvents> app_;
  std::unique_ptr<Analyzer> analyzer_;
  uint64_t packets_ = 0;
  std::vector<std::pair<const char*, uint64_t>> app_counters_;  // the capture thread's scratch
  mutable std::mutex mu_;
  AnalyzerStats snapshot_;
  DetectStats detect_snapshot_;
  EvidenceStats evidence_snapshot_;
  std::vector<std::pair<const char*, uint64_t>> app_snapshot_;
};

}  // namespace podspan
