// The Detector wired into analytics: whole frames through the Analyzer (the pipeline's per-TCP-
// packet hook, the connection tracker's completed handshakes, UDP datagrams) and through the
// AnalysisConsumer (HTTP records via the DetectingSink, alerts into the batches, `records` off
// leaving only alerts).
#include <algorithm>
#include <string>

#include "check.h"
#include "kept_records.h"
#include "tcp_frames.h"
#include "analysis/analyzer.h"
#include "analysis/record_queue.h"
#include "detection/detector.h"

using namespace podspan;
using podspan_test::Bytes;
using podspan_test::raw_tcp_frame_acked;

namespace {

constexpr uint64_t kT0 = 1790000000ull * 1000000000ull;

template <class Consumer>
void feed(Consumer& c, const Bytes& b, uint64_t ts) {
  PacketRecord rec;
  rec.ts_ns = ts;
  rec.caplen = rec.origlen = static_cast<uint32_t>(b.size());
  c.consume(rec, b.data());
}

template <class Consumer>
void raw_interface(Consumer& c) {
  InterfaceInfo i;
  i.linktype = kLinktypeRaw;
  c.add_interface(i);
}

// Ten seconds of `per_second` connection attempts from 10.0.0.1 to 10.0.0.2:80; `complete`: each
// gets its SYN/ACK and the ACK that completes it. `http`: and one GET / answered 200.
template <class Consumer>
void connections(Consumer& c, int per_second, bool complete, bool http = false, int seconds = 10) {
  for (int s = 0; s < seconds; ++s) {
    for (int i = 0; i < per_second; ++i) {
      const uint64_t ts = kT0 + s * 1000000000ull + i * (1000000000ull / per_second);
      const uint16_t sport = static_cast<uint16_t>(1024 + s * per_second + i);
      feed(c, raw_tcp_frame_acked(1, sport, 2, 80, 1000, 0, kSyn, 1000, ""), ts);
      if (!complete) continue;
      feed(c, raw_tcp_frame_acked(2, 80, 1, sport, 5000, 1001, kSyn | kAck, 1000, ""), ts + 1000);
      feed(c, raw_tcp_frame_acked(1, sport, 2, 80, 1001, 5001, kAck, 1000, ""), ts + 2000);
      if (!http) continue;
      const std::string req = "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n";
      const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      feed(c, raw_tcp_frame_acked(1, sport, 2, 80, 1001, 5001, kAck | kPsh, 1000, req), ts + 3000);
      feed(c, raw_tcp_frame_acked(2, 80, 1, sport, 5001, 1001 + static_cast<uint32_t>(req.size()), kAck | kPsh, 1000, resp),
           ts + 4000);
    }
  }
}

}  // namespace

TEST(analyzer_feeds_the_detector_syns_and_completed_handshakes) {
  for (bool complete : {false, true}) {
    podspan_test::KeptRecords out;
    Detector det(DetectConfig{}, out);
    Analyzer an(AnalyzerOptions{}, out, nullptr);
    an.set_detector(&det);
    raw_interface(an);
    connections(an, 500, complete);
    an.finish();
    const size_t floods = static_cast<size_t>(std::count_if(out.alerts.begin(), out.alerts.end(),
                                                            [](const AlertRecord& a) { return a.kind == AlertKind::kSynFlood && !a.cleared; }));
    CHECK_EQ(floods, complete ? 0u : 1u);  // completed handshakes make it a busy server, not a flood
    CHECK_EQ(out.flows.size(), 5000u);
  }
}

TEST(analyzer_feeds_the_detector_udp_datagrams) {
  podspan_test::KeptRecords out;
  Detector det(DetectConfig{}, out);
  Analyzer an(AnalyzerOptions{}, out, nullptr);
  an.set_detector(&det);
  raw_interface(an);
  for (int s = 0; s < 5; ++s)
    for (int i = 0; i < 100; ++i)
      feed(an, podspan_test::ipv4(9, 2, 17, podspan_test::udp(60000, static_cast<uint16_t>(1 + s * 100 + i), Bytes(8, 0))),
           kT0 + s * 1000000000ull + i * 10000000ull);
  an.finish();
  CHECK_EQ(out.alerts.size(), 2u);  // fired, and cleared when the capture ended
  if (!out.alerts.empty()) CHECK(out.alerts[0].kind == AlertKind::kPortScan);
}

TEST(analysis_consumer_queues_alerts_and_with_records_off_nothing_else) {
  for (bool records : {true, false}) {
    AnalysisOptions o;
    o.queue.wait_for_room = false;
    o.queue.queue_max_batches = 1024;
    o.detect = true;
    o.detect_config.records = records;
    AnalysisConsumer c(o);
    raw_interface(c);
    connections(c, 500, false);
    c.finish();
    RecordBatch b;
    std::string alerts;
    uint64_t flows = 0, alert_count = 0;
    while (c.take(b)) {
      alerts += b.alerts;
      flows += b.flow_count;
      alert_count += b.alert_count;
      CHECK_EQ(b.alert_count, static_cast<uint64_t>(std::count(b.alerts.begin(), b.alerts.end(), '\n')));
    }
    CHECK_EQ(alert_count, 2u);  // fired, and cleared when the capture ended
    CHECK(alerts.find("\"state\":\"cleared\"") != std::string::npos && alerts.find("\"cleared_by\":\"capture_end\"") != std::string::npos);
    CHECK(alerts.find("\"kind\":\"syn_flood\",\"alert_id\":\"A1\",\"state\":\"fired\",\"server\":\"10.0.0.2\",\"server_port\":80") !=
          std::string::npos);
    CHECK_EQ(flows, records ? 5000u : 0u);
    const AnalysisStats s = c.stats();
    CHECK(s.detect);
    CHECK_EQ(s.detect_stats.alerts_fired, 1u);
    CHECK_EQ(s.detect_stats.servers, 1u);
    CHECK_EQ(s.queue.alerts, 2u);
  }
}

TEST(analysis_consumer_hands_http_records_to_the_detector) {
  AnalysisOptions o;
  o.queue.queue_max_batches = 1024;
  o.detect = true;
  o.detect_config.warmup_seconds = 0;
  o.detect_config.request_surge = DetectRule{5, 6, 1, 5, 0};
  AnalysisConsumer c(o);
  raw_interface(c);
  connections(c, 10, true, true, 1);  // 10 requests in one second: over a floor of 5 from nothing
  c.finish();
  RecordBatch b;
  std::string alerts;
  uint64_t http = 0;
  while (c.take(b)) {
    alerts += b.alerts;
    http += b.http_count;
  }
  CHECK_EQ(http, 10u);
  CHECK(alerts.find("\"kind\":\"request_surge\"") != std::string::npos);
  CHECK(alerts.find("\"route\":\"/items/{id}\"") != std::string::npos);
  CHECK(alerts.find("\"route\":null") != std::string::npos);  // and the server's own
}
