#include "analysis/record_queue.h"

#include <chrono>

#include "analysis/app_analyzer.h"

namespace podspan {
namespace {

// The application analyser with its counters named for stats (camelCase, as JavaScript reads them).
class AppAnalyzerEvents : public AppEventsFor<AppAnalyzer> {
 public:
  using AppEventsFor<AppAnalyzer>::AppEventsFor;
  void counters(std::vector<std::pair<const char*, uint64_t>>& out) const override {
    const AppAnalyzerStats s = app().stats();
    // The counters the plan names (the rest of AppAnalyzerStats may still change).
    out.clear();
    out.emplace_back("httpRequests", s.http_requests);
    out.emplace_back("h2Streams", s.h2_streams);
    out.emplace_back("skippedH2Midstream", s.skipped_h2_midstream);
    out.emplace_back("parseErrors", s.parse_errors);
    out.emplace_back("dnsQueries", s.dns_queries);
  }
};

uint64_t realtime_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}
constexpr uint64_t kLiveLagNs = 1000000000ull;

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

// Rows point into a batch's JSON with 32-bit offsets, and an overflowing batch grows to four
// times the cap. The cap counts compact records, whose JSON is larger: a string's byte takes at
// most 6, a record's numbers (96 bytes or more compact) well under 1 KiB of text. 32 MiB (128 MiB
// overflowing, its JSON less than 32 times that) keeps every offset below 2^32.
constexpr size_t kMaxBatchBytes = size_t{32} << 20;

RecordQueue::RecordQueue(RecordQueueOptions options) : opt_(options), queue_(options.queue_max_batches) {
  if (opt_.batch_max_bytes > kMaxBatchBytes) opt_.batch_max_bytes = kMaxBatchBytes;
}

bool RecordQueue::room_for_record() {
  // Overflowing (live), the batch still grows up to four times its size, then records drop.
  if (overflow_ && current_.bytes() >= 4 * opt_.batch_max_bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    ++counters_.dropped_records;
    return false;
  }
  if (current_.empty()) current_started_ms_ = now_ms();
  return true;
}

void RecordQueue::counted() {
  if (current_.bytes() >= opt_.batch_max_bytes) maybe_push(false);
}

void RecordQueue::flow(const FlowRecord& r) {
  if (!room_for_record()) return;
  current_.add(r, texts_of(r));
  counted();
}

void RecordQueue::http(const HttpRecord& r) { http_parts(r, texts_of(r)); }

void RecordQueue::http_parts(const HttpNumbers& n, const HttpTexts& t) {
  if (!room_for_record()) return;
  current_.add(n, t);
  counted();
}

void RecordQueue::dns(const DnsRecord& r) {
  if (!room_for_record()) return;
  current_.add(r, texts_of(r));
  counted();
}

void RecordQueue::alert(const AlertRecord& r) {
  if (current_.empty()) current_started_ms_ = now_ms();
  current_.add(r);
  counted();
}

void RecordQueue::maybe_push(bool force) {
  if (current_.empty()) return;
  const uint64_t now = now_ms();
  if (!force && current_.bytes() < opt_.batch_max_bytes && now - current_started_ms_ < opt_.flush_ms) return;
  using Q = BatchQueue<CompactBatch>;
  const RecordBatch::Counts counts = current_.counts();
  const CompactBatch::Sizes sizes = current_.sizes();
  switch (queue_.push(current_, force ? Q::When::kForce : opt_.wait_for_room ? Q::When::kWaitForRoom : Q::When::kIfRoom)) {
    case Q::Push::kAbandoned:
      current_.clear();
      return;
    case Q::Push::kFull:
      overflow_ = true;  // keep the batch; once it reaches its overflow size, records drop
      return;
    case Q::Push::kPushed: {
      std::lock_guard<std::mutex> lk(mu_);
      counters_.flows += counts.flows;
      counters_.http += counts.http;
      counters_.dns += counts.dns;
      counters_.alerts += counts.alerts;
      ++counters_.batches;
      overflow_ = false;
      break;
    }
  }
  queue_.take_spare(current_);  // buffers that have their pages already, or fresh ones
  current_.reserve(sizes);
  if (on_ready_) on_ready_();
}

template <typename Format>
bool RecordQueue::take_formatted(Format format) {
  CompactBatch taken;
  if (!queue_.take(taken)) return false;
  format(taken);
  taken.clear();
  queue_.give_back(std::move(taken));
  return true;
}

bool RecordQueue::take(RecordBatch& out) {
  return take_formatted([&](const CompactBatch& b) { b.format(out); });
}

bool RecordQueue::take(RecordSinks& out, RecordBatch::Counts& counts) {
  return take_formatted([&](const CompactBatch& b) {
    b.format(out);
    counts = b.counts();
  });
}

RecordQueueStats RecordQueue::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return counters_;
}

AnalysisConsumer::AnalysisConsumer(AnalysisOptions options)
    : queue_(options.queue), reading_file_(options.queue.wait_for_room), scan_group_(options.scan_group) {
  RecordSink* sink = &queue_;
  if (options.detect) {
    detector_ = std::make_unique<Detector>(options.detect_config, queue_);
    detecting_ = std::make_unique<DetectingSink>(queue_, *detector_, options.detect_config.records);
    sink = detecting_.get();
  }
  if (options.app) app_ = std::make_unique<AppAnalyzerEvents>(std::make_unique<AppAnalyzer>(*sink));
  analyzer_ = std::make_unique<Analyzer>(options.analyzer, *sink, app_.get());
  if (detector_) analyzer_->set_detector(detector_.get());
  if (detector_ && options.evidence) {
    evidence_ = std::make_unique<EvidenceRecorder>(std::move(options.evidence_options));
    detector_->set_evidence(evidence_.get());
  }
  if (detector_ && scan_group_) detector_->set_scan_group(scan_group_.get());
}

AnalysisConsumer::~AnalysisConsumer() = default;

void AnalysisConsumer::consume(const PacketRecord& rec, const uint8_t* bytes) {
  // First into the ring: an alert this frame raises finds it there.
  if (evidence_) evidence_->record(rec, bytes);
  analyzer_->consume(rec, bytes);
  // The clock is read every 64 packets; counters are published every 4096.
  if ((++packets_ & 63) == 0) queue_.maybe_push(false);
  if ((packets_ & 4095) == 0) publish();
}

void AnalysisConsumer::dispatched() {
  // Live, capture time goes on without packets: the detector's seconds close by the wall clock,
  // a second behind it so that packets still in the kernel's ring are counted in their own.
  if (!reading_file_) {
    const uint64_t now = realtime_ns() - kLiveLagNs;
    if (detector_) detector_->advance_idle(now);
    if (evidence_) evidence_->advance_idle(now);  // also puts open recordings on disk
  } else if (evidence_) {
    evidence_->flush();
  }
  queue_.maybe_push(false);
  publish();
}

void AnalysisConsumer::finish() {
  analyzer_->finish();  // the detector judges its last second: it may still trigger evidence
  if (evidence_) evidence_->finish();
  queue_.maybe_push(true);
  publish();
}

void AnalysisConsumer::publish() {
  const AnalyzerStats s = analyzer_->stats();
  if (app_) app_->counters(app_counters_);
  const DetectStats d = detector_ ? detector_->stats() : DetectStats{};
  const EvidenceStats e = evidence_ ? evidence_->stats() : EvidenceStats{};
  std::lock_guard<std::mutex> lk(mu_);
  snapshot_ = s;
  detect_snapshot_ = d;
  evidence_snapshot_ = e;
  app_snapshot_ = app_counters_;
}

AnalysisStats AnalysisConsumer::stats() const {
  AnalysisStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.analyzer = snapshot_;
    s.app_counters = app_snapshot_;
    s.detect_stats = detect_snapshot_;
    s.evidence_stats = evidence_snapshot_;
  }
  s.detect = detector_ != nullptr;
  s.evidence = evidence_ != nullptr;
  s.queue = queue_.stats();
  s.app = app_ != nullptr;
  return s;
}

}  // namespace podspan
