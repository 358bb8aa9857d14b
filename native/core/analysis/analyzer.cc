#include "analysis/analyzer.h"

#include <cstring>

#include "detection/detector.h"

namespace podspan {
namespace {
constexpr uint64_t kExpireEveryNs = 1000000000ull;  // as the pipeline: once per second of capture time
constexpr uint16_t kDnsPort = 53;
}  // namespace

Analyzer::Analyzer(AnalyzerOptions options, RecordSink& sink, AppEvents* app)
    : tracker_(sink), app_(app), pipeline_(options.reassembly, options.defrag, *this) {
  pipeline_.set_segment_observer(this);
  if (app_) pipeline_.set_datagram_observer(this);
}

void Analyzer::set_detector(Detector* detector) {
  detector_ = detector;
  pipeline_.set_tcp_packet_observer(detector);
  pipeline_.set_datagram_observer(app_ || detector_ ? this : nullptr);
}

void Analyzer::consume(const PacketRecord& rec, const uint8_t* bytes) {
  pipeline_.add(rec, bytes);
  last_ts_ = rec.ts_ns;
  if (app_ && rec.ts_ns >= last_expire_ts_ + kExpireEveryNs) {
    app_->expire(rec.ts_ns);  // DNS queries left unanswered past the timeout
    last_expire_ts_ = rec.ts_ns;
  }
}

void Analyzer::finish() {
  pipeline_.finish();  // closes every flow: their records go out
  if (app_) app_->finish(last_ts_);
  if (detector_) detector_->finish();  // after the last records: they count in the last second
}

void Analyzer::on_open(const StreamInfo& s) {
  tracker_.on_open(s);
  if (app_) app_->on_open(s);
}

void Analyzer::on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) {
  const bool first = tracker_.client_side(s.slot) < 0;
  if (tracker_.on_segment(s, dir, d, ts) && detector_) {
    const int server = 1 - tracker_.client_side(s.slot);
    detector_->on_handshake(s.ip_version, s.side[server].addr, s.side[server].port, ts);
  }
  // The first segment decides which side is the client; the application analyser needs it
  // before any data (picked up midstream, side 0 is merely whoever spoke first).
  if (first && app_) app_->set_client_side(s.slot, tracker_.client_side(s.slot));
}

void Analyzer::on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  if (app_) app_->on_data(s, dir, offset, data, len, ts);
}

void Analyzer::on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) {
  tracker_.on_gap(s, dir, len);
  if (app_) app_->on_gap(s, dir, offset, len);
}

void Analyzer::on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) {
  tracker_.on_close(s, reason, ts, app_ ? app_->app_of(s.slot) : nullptr);
  if (app_) app_->on_close(s, reason, ts);
}

void Analyzer::on_datagram(const Decoded& d, const uint8_t* payload, uint32_t len, uint64_t ts) {
  if (detector_) detector_->on_udp(d, ts);
  if (!app_ || (d.sport != kDnsPort && d.dport != kDnsPort)) return;
  RecordEndpoints e;  // as seen: the sender as client; the DNS entry sorts out queries and responses
  e.ip_version = d.ip_version;
  e.vlan = d.vlan_count ? d.vlan[d.vlan_count - 1] : 0;
  std::memcpy(e.client, d.src, 16);
  std::memcpy(e.server, d.dst, 16);
  e.client_port = d.sport;
  e.server_port = d.dport;
  ++dns_datagrams_;
  app_->on_udp(e, payload, len, ts);
}

AnalyzerStats Analyzer::stats() const {
  AnalyzerStats s;
  static_cast<TcpPipelineStats&>(s) = pipeline_.stats();
  s.flow_records = tracker_.records();
  s.udp_dns_datagrams = dns_datagrams_;
  return s;
}

}  // namespace podspan
