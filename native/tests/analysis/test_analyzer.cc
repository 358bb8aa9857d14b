// The Analyzer's wiring: the application analyser gets the reassembler's events in order, learns
// which side is the client before any data, is asked for the stream's app before its close (the
// flow record carries it), and gets UDP datagrams on port 53 as seen. The application analyser
// here is a recorder behind the AppEvents interface (the real one lives on another branch).
// And the record queue: a file waits for room, live capture drops and counts.
#include <algorithm>
#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "kept_records.h"
#include "tcp_frames.h"
#include "analysis/analyzer.h"
#include "analysis/record_queue.h"

using namespace podspan;
using podspan_test::Bytes;
using podspan_test::raw_tcp_frame_acked;

namespace {

using Records = podspan_test::KeptRecords;

struct Recorder : AppEvents {
  std::vector<std::string> lines;
  template <typename... T>
  void note(const T&... parts) {
    std::ostringstream os;
    ((os << parts << ' '), ...);
    lines.push_back(os.str());
  }
  void on_open(const StreamInfo& s) override { note("open", s.id); }
  void set_client_side(uint32_t, int side) override { note("client", side); }
  void on_data(const StreamInfo& s, int dir, uint64_t off, const uint8_t* p, uint32_t n, uint64_t) override {
    note("data", s.id, dir, off, std::string(reinterpret_cast<const char*>(p), n));
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t off, uint64_t n) override { note("gap", s.id, dir, off, n); }
  void on_close(const StreamInfo& s, CloseReason r, uint64_t) override { note("close", s.id, close_reason_name(r)); }
  void on_udp(const RecordEndpoints& e, const uint8_t*, uint32_t n, uint64_t) override {
    note("udp", static_cast<int>(e.client[3]), e.client_port, static_cast<int>(e.server[3]), e.server_port, n);
  }
  void expire(uint64_t) override {}
  void finish(uint64_t) override { note("finish"); }
  const char* app_of(uint32_t) const override {
    const_cast<Recorder*>(this)->note("app_of");
    return "http";
  }
};

void feed(Analyzer& an, const Bytes& b, uint64_t ts) {
  PacketRecord rec;
  rec.ts_ns = ts;
  rec.caplen = rec.origlen = static_cast<uint32_t>(b.size());
  an.consume(rec, b.data());
}

AnalyzerOptions raw_options() { return AnalyzerOptions{}; }

}  // namespace

TEST(analyzer_feeds_the_app_in_order_and_names_its_app) {
  Records out;
  Recorder app;
  Analyzer an(raw_options(), out, &app);
  InterfaceInfo i;
  i.linktype = kLinktypeRaw;
  an.add_interface(i);
  // Picked up midstream: the server (port 80) speaks first, so side 0 is the server.
  feed(an, raw_tcp_frame_acked(2, 80, 1, 40000, 5001, 1001, kAck | kPsh, 1000, "resp"), 1000);
  feed(an, raw_tcp_frame_acked(1, 40000, 2, 80, 1001, 5005, kAck | kPsh, 1000, "req"), 2000);
  feed(an, raw_tcp_frame_acked(1, 40000, 2, 80, 1004, 5005, kAck | kRst, 1000, ""), 3000);
  // A DNS query and an unrelated UDP datagram.
  feed(an, podspan_test::ipv4(1, 3, 17, podspan_test::udp(5353, 53, Bytes(20, 7))), 4000);
  feed(an, podspan_test::ipv4(1, 3, 17, podspan_test::udp(5353, 5000, Bytes(20, 7))), 5000);
  an.finish();
  const std::vector<std::string> want = {"open 1 ", "client 1 ", "data 1 0 0 resp ", "data 1 1 0 req ", "app_of ",
                                         "close 1 rst ", "udp 1 5353 3 53 20 ", "finish "};
  CHECK_EQ(app.lines.size(), want.size());
  for (size_t k = 0; k < want.size() && k < app.lines.size(); ++k) CHECK_EQ(app.lines[k], want[k]);
  CHECK_EQ(out.flows.size(), 1u);
  if (!out.flows.empty()) {
    CHECK_EQ(out.flows[0].app, std::string("http"));
    CHECK_EQ(out.flows[0].ends.server_port, 80);
    CHECK_EQ(out.flows[0].client_bytes, 3u);
    CHECK_EQ(conn_state_name(out.flows[0].state), std::string("midstream"));
  }
  CHECK_EQ(an.stats().udp_dns_datagrams, 1u);
}

TEST(record_queue_live_drops_and_counts) {
  RecordQueueOptions o;
  o.wait_for_room = false;
  o.batch_max_bytes = 200;  // about one flow record per batch (176 bytes compact, and its strings)
  o.queue_max_batches = 2;
  RecordQueue q(o);
  FlowRecord r;
  r.uid = 1;
  for (int k = 0; k < 100; ++k) q.flow(r);  // nobody takes: the queue fills, then records drop
  q.maybe_push(true);
  const RecordQueueStats s = q.stats();
  CHECK(s.dropped_records > 0);
  RecordBatch b;
  uint64_t lines = 0;
  while (q.take(b)) {
    for (char c : b.flows) lines += c == '\n';
    CHECK_EQ(b.flow_count, static_cast<uint64_t>(std::count(b.flows.begin(), b.flows.end(), '\n')));
  }
  CHECK_EQ(lines + s.dropped_records, 100u);  // every record either handed over or counted
  CHECK_EQ(s.flows, lines);
}

TEST(record_queue_file_waits_and_loses_nothing) {
  RecordQueueOptions o;
  o.wait_for_room = true;
  o.batch_max_bytes = 200;
  o.queue_max_batches = 1;
  RecordQueue q(o);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    FlowRecord r;
    for (int k = 0; k < 500; ++k) {
      r.uid = static_cast<uint64_t>(k + 1);
      q.flow(r);
    }
    q.maybe_push(true);
    done = true;
  });
  uint64_t lines = 0;
  RecordBatch b;
  while (!done) {
    if (q.take(b)) lines += static_cast<uint64_t>(std::count(b.flows.begin(), b.flows.end(), '\n'));
    else std::this_thread::yield();
  }
  producer.join();
  while (q.take(b)) lines += static_cast<uint64_t>(std::count(b.flows.begin(), b.flows.end(), '\n'));
  CHECK_EQ(lines, 500u);
  CHECK_EQ(q.stats().dropped_records, 0u);
}
