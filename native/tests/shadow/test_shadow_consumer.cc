// The ExchangeQueue's bounds (live drops whole batches and says how many exchanges went; a file
// waits for room and loses nothing) and the ShadowConsumer on whole frames: a request split
// over segments with a retransmitted one, the client told by the SYN.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "shadow/shadow_consumer.h"
#include "shadow/shadow_lines.h"
#include "tcp_frames.h"

using namespace podspan;
using podspan_test::Bytes;
using podspan_test::raw_tcp_frame_acked;
using shadow_test::bytes;
using shadow_test::field;
using shadow_test::Line;
using shadow_test::Lines;
using shadow_test::resp_at;

namespace {

void write_exchange(ExchangeQueue& q, int i) {
  const std::string body(100, 'x');
  ExchangeRowWriter(q.current(), ExchangeRowKind::kTurn, 1).num(i).ms(0).slice(body.data(), 0).slice(body.data(), body.size()).ms(0).ms(0).flag(false).end();
  q.row_done(true);
}

}  // namespace

TEST(shadow_queue_live_drops_whole_batches_and_reports_them) {
  ExchangeQueueOptions o;
  o.batch_max_bytes = 1000;  // about 6 exchanges a batch
  o.queue_max_batches = 2;
  ExchangeQueue q(o);
  for (int i = 0; i < 100; ++i) write_exchange(q, i);
  const ExchangeQueueStats full = q.stats();
  CHECK_EQ(full.batches, 2u);
  CHECK(full.dropped_batches >= 8u);
  CHECK_EQ(full.exchanges + full.dropped_exchanges + q.current().exchanges, 100u);
  Lines l;
  l.drain(q);  // takes the two, then the forced last one with the skip line
  const ExchangeQueueStats end = q.stats();
  CHECK_EQ(l.of_type("turn").size() + end.dropped_exchanges, 100u);
  const std::vector<Line> skips = l.of_type("skip");
  CHECK_EQ(skips.size(), 1u);
  if (skips.size() == 1) {
    CHECK_EQ(field(skips[0].json, "reason"), "\"queue_full\"");
    CHECK_EQ(field(skips[0].json, "count"), std::to_string(end.dropped_exchanges));
  }
}

TEST(shadow_queue_file_waits_for_room_and_loses_nothing) {
  ExchangeQueueOptions o;
  o.wait_for_room = true;
  o.batch_max_bytes = 1000;
  o.queue_max_batches = 1;
  ExchangeQueue q(o);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) write_exchange(q, i);
    q.maybe_push(true);
    done = true;
  });
  uint64_t got = 0;
  ExchangeBatch b;
  for (;;) {
    if (q.take(b)) got += b.exchanges;
    else if (done) break;
    else std::this_thread::yield();
  }
  producer.join();
  while (q.take(b)) got += b.exchanges;
  CHECK_EQ(got, 1000u);
  CHECK_EQ(q.stats().dropped_batches, 0u);
}

namespace {

struct Frames {
  ShadowConsumer c;
  uint64_t ts = 1'700'000'000'000'000'000ull;
  explicit Frames(ShadowConsumerOptions o) : c(std::move(o)) {
    InterfaceInfo i;
    i.linktype = kLinktypeRaw;
    c.add_interface(i);
  }
  void feed(const Bytes& b) {
    PacketRecord rec;
    rec.ts_ns = ts += 1000;
    rec.caplen = rec.origlen = static_cast<uint32_t>(b.size());
    c.consume(rec, b.data());
  }
};

ShadowConsumerOptions wait_options() {
  ShadowConsumerOptions o;
  o.queue.wait_for_room = true;
  o.queue.queue_max_batches = 1 << 16;
  return o;
}

Lines drain(ShadowConsumer& c) {
  Lines l;
  ExchangeBatch b;
  while (c.take(b)) l.batches.push_back(std::move(b));
  ExchangeQueue empty({});
  l.drain(empty);  // splits the batches taken into lines
  return l;
}

}  // namespace

TEST(shadow_consumer_split_and_retransmitted_segments) {
  Frames f(wait_options());
  const uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08, kFin = 0x01;
  const std::string req = "POST /api/items/77 HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabcdef";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  // The client (10.0.0.1:8080) connects to 10.0.0.2:1000: only the SYN says who is who.
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 100, 0, kSyn, 1000, ""));
  f.feed(raw_tcp_frame_acked(2, 1000, 1, 8080, 500, 101, kSyn | kAck, 1000, ""));
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 101, 501, kAck | kPsh, 1000, req.substr(0, 10)));
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 111, 501, kAck | kPsh, 1000, req.substr(10, 20)));
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 111, 501, kAck | kPsh, 1000, req.substr(10, 20)));  // again
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 131, 501, kAck | kPsh, 1000, req.substr(30)));
  f.feed(raw_tcp_frame_acked(2, 1000, 1, 8080, 501, 101 + req.size(), kAck | kPsh, 1000, resp));
  f.feed(raw_tcp_frame_acked(1, 8080, 2, 1000, 101 + req.size(), 501 + resp.size(), kAck | kFin, 1000, ""));
  f.feed(raw_tcp_frame_acked(2, 1000, 1, 8080, 501 + resp.size(), 102 + req.size(), kAck | kFin, 1000, ""));
  f.c.finish();
  const Lines l = drain(f.c);
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 1u);
  if (h.size() != 1) return;
  CHECK_EQ(field(l.lines[0].json, "client_port"), "8080");
  CHECK_EQ(field(h[0].json, "route"), "\"/api/items/{id}\"");
  CHECK_EQ(bytes(h[0], "body"), "abcdef");
  CHECK_EQ(bytes(h[0], "body", resp_at(h[0])), "ok");
  CHECK_EQ(l.of_type("close").size(), 1u);
  const ShadowStats s = f.c.stats();
  CHECK_EQ(s.extractor.connections, 1u);
  CHECK_EQ(s.queue.exchanges, 1u);
  CHECK(s.pipeline.reassembly.retransmitted_bytes >= 20u);
}
