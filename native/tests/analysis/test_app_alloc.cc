// Steady state allocates nothing per message: after a warm-up, a thousand more HTTP/1
// exchanges (pipelined, chunked) and HTTP/2 streams on a connection cost no operator new; the
// shadow extractor, which keeps headers and bodies, allocates only as its output batch grows.
// (Counted by alloc_count.h. nghttp2's own mallocs inside the HPACK inflater are not seen by it.)
#include <string>

#include "alloc_count.h"
#include "analysis/app_analyzer.h"
#include "analysis/record_queue.h"
#include "shadow/extractor.h"
#include "check.h"
#include "protocols/h2_frames.h"

#ifndef PODSPAN_SANITIZED
using alloc_count::counting;
using alloc_count::news;

using namespace podspan;

namespace {

struct Counting : RecordSink {
  uint64_t http_records = 0;
  void flow(const FlowRecord&) override {}
  void http(const HttpRecord&) override { ++http_records; }
  void dns(const DnsRecord&) override {}
};

// One round of an HTTP/1 connection: the client's bytes, then the server's, at the next offsets.
template <class Analyser>
void exchange(Analyser& a, const StreamInfo& s, const std::string& req, const std::string& resp, uint64_t off[2], uint64_t& ts) {
  a.on_data(s, 0, off[0], reinterpret_cast<const uint8_t*>(req.data()), static_cast<uint32_t>(req.size()), ts++);
  off[0] += req.size();
  a.on_data(s, 1, off[1], reinterpret_cast<const uint8_t*>(resp.data()), static_cast<uint32_t>(resp.size()), ts++);
  off[1] += resp.size();
}

StreamInfo stream(uint64_t id, uint32_t slot) {
  StreamInfo s;
  s.id = id;
  s.slot = slot;
  s.side[0].port = 40000;
  s.side[1].port = 80;
  return s;
}

}  // namespace
#endif  // PODSPAN_SANITIZED

TEST(app_steady_state_allocates_nothing_per_message) {
#ifdef PODSPAN_SANITIZED
  std::printf("  allocation count: skipped under the sanitizers (they own operator new)\n");
#else
  // The counter sees allocations at all.
  counting = true;
  { std::string probe(100, 'x'); }
  counting = false;
  CHECK_EQ(news.load(), 1u);
  Counting out;
  AppAnalyzer a(out);
  // HTTP/1: two pipelined requests per round, a chunked and a sized response.
  const StreamInfo s = stream(1, 0);
  a.on_open(s);
  const std::string req =
      "GET /api/v1/users/12345/orders?page=2&sort=desc HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\n"
      "Content-Type: application/json; charset=utf-8\r\nConnection: keep-alive\r\n\r\n"
      "POST /api/v1/users/12345/orders HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\nContent-Length: 5\r\n\r\nhello";
  const std::string resp =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  uint64_t off[2] = {0, 0}, ts = 1;
  auto round = [&]() { exchange(a, s, req, resp, off, ts); };
  // HTTP/2: one stream per round on another connection, headers pre-encoded (the encoder's
  // allocations are not the analyser's).
  const StreamInfo h = stream(2, 1);
  a.on_open(h);
  h2test::Encoder cenc, senc;
  std::string client = h2test::kPreface + h2test::settings({});
  std::string server = h2test::settings({});
  std::vector<std::string> creq, sresp;
  for (uint32_t i = 0; i < 1100; ++i) {
    const uint32_t id = 1 + 2 * i;
    creq.push_back(cenc.headers(id, {{":method", "GET"}, {":scheme", "http"}, {":path", "/items/42?q=long-enough-to-allocate"},
                                     {":authority", "catalog.shop.svc.cluster.local:8080"}}, true));
    sresp.push_back(senc.headers(id, {{":status", "200"}, {"content-type", "application/json"}}, false) + h2test::frame(0, 1, id, "{}"));
  }
  uint64_t hoff[2] = {0, 0};
  auto h2_send = [&](int dir, const std::string& b) {
    a.on_data(h, dir, hoff[dir], reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size()), ts++);
    hoff[dir] += b.size();
  };
  h2_send(0, client);
  h2_send(1, server);
  for (int i = 0; i < 100; ++i) {
    round();
    h2_send(0, creq[i]);
    h2_send(1, sresp[i]);
  }
  const uint64_t before = out.http_records;
  news = 0;
  counting = true;
  for (int i = 100; i < 1100; ++i) {
    round();
    h2_send(0, creq[i]);
    h2_send(1, sresp[i]);
  }
  counting = false;
  CHECK_EQ(out.http_records - before, 3000u);
  CHECK_EQ(news.load(), 0u);
  a.on_close(s, CloseReason::kFin, ts);
  a.on_close(h, CloseReason::kFin, ts);
#endif
}

TEST(shadow_extractor_allocates_per_batch_not_per_exchange) {
#ifdef PODSPAN_SANITIZED
  std::printf("  allocation count: skipped under the sanitizers (they own operator new)\n");
#else
  ExchangeQueueOptions qo;
  qo.batch_max_bytes = 64 << 20;  // one batch: what grows is its two strings, by doubling
  qo.queue_max_batches = 4;
  ExchangeQueue q(qo);
  ShadowExtractor x({}, q);
  const StreamInfo s = stream(1, 0);
  x.on_open(s);
  x.on_first_segment(s, 0);
  const std::string req =
      "GET /api/v1/users/12345/orders?page=2 HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\nAccept: application/json\r\n\r\n"
      "POST /api/v1/users/12345/orders HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\nContent-Length: 41\r\n\r\n"
      "{\"item\":\"0123456789abcdef\",\"count\":12345}";
  const std::string resp =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n21\r\n{\"orders\":[1,2,3,4,5,6,7,8,9,10]}\r\n0\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  uint64_t off[2] = {0, 0}, ts = 1;
  auto round = [&]() { exchange(x, s, req, resp, off, ts); };
  for (int i = 0; i < 100; ++i) round();
  const uint64_t before = x.stats().exchanges;
  news = 0;
  counting = true;
  for (int i = 0; i < 5000; ++i) round();
  counting = false;
  CHECK_EQ(x.stats().exchanges - before, 10000u);
  // 10,000 exchanges, about 5 MB of lines and data: the batch's meta and data double about 10
  // times each; nothing else allocates.
  CHECK(news.load() <= 24u);
  std::printf("  shadow extractor: %llu allocations for 10000 exchanges\n", static_cast<unsigned long long>(news.load()));
  x.on_close(s, CloseReason::kFin, ts);
#endif
}

TEST(record_queue_keeps_http_records_without_allocating_once_warm) {
#ifdef PODSPAN_SANITIZED
  std::printf("  allocation count: skipped under the sanitizers (they own operator new)\n");
#else
  // The capture thread's side: HTTP/1 exchanges into the queue, which keeps them in compact form
  // (record_batch.h). A batch handed over leaves the next one room for as many records, so
  // between two hand-overs nothing is allocated (formatting, on the taker's thread, is not counted).
  RecordQueueOptions qo;
  qo.batch_max_bytes = 64 << 10;  // some 300 records a batch
  qo.queue_max_batches = 64;
  RecordQueue q(qo);
  AppAnalyzer a(q);
  const StreamInfo s = stream(1, 0);
  a.on_open(s);
  const std::string req =
      "GET /api/v1/users/12345/orders?page=2&sort=desc HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\n\r\n"
      "POST /api/v1/users/12345/orders HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\nContent-Length: 5\r\n\r\nhello";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  uint64_t off[2] = {0, 0}, ts = 1;
  auto round = [&]() { exchange(a, s, req, resp, off, ts); };
  while (q.stats().batches < 2) round();  // the second batch was given the first one's room
  news = 0;
  counting = true;
  for (int i = 0; i < 100; ++i) round();  // 200 records: within the third batch
  counting = false;
  CHECK_EQ(q.stats().batches, 2u);
  CHECK_EQ(news.load(), 0u);
  q.maybe_push(true);
  RecordBatch b;
  uint64_t http = 0;
  while (q.take(b)) http += b.http_count;
  CHECK(http >= 200u);
  a.on_close(s, CloseReason::kFin, ts);
#endif
}

TEST(record_queue_batches_reuse_the_buffers_handed_back) {
#ifdef PODSPAN_SANITIZED
  std::printf("  allocation count: skipped under the sanitizers (they own operator new)\n");
#else
  // Each batch taken goes back to the producer emptied: once a few batches have gone round, a
  // consumer that keeps up (here: takes what is ready after each record) sees batches made,
  // pushed and taken (formatted into a reused RecordBatch) without allocating their buffers,
  // where fresh buffers for each batch cost their pages again on the capture thread.
  RecordQueueOptions o;
  o.wait_for_room = true;
  o.batch_max_bytes = 64 << 10;
  RecordQueue q(o);
  RecordBatch taken;
  FlowRecord r;
  r.close_reason = "fin";
  uint64_t lines = 0;
  auto batches = [&](int n) {
    for (int b = 0; b < n; ++b) {
      for (int k = 0; k < 1000; ++k) {
        q.flow(r);  // over the cap: pushed as it fills
        while (q.take(taken)) lines += taken.flow_count;
      }
      q.maybe_push(true);
      while (q.take(taken)) lines += taken.flow_count;
    }
  };
  batches(4);
  const uint64_t pushed_before = q.stats().batches;
  counting = true;
  news = 0;
  batches(8);
  counting = false;
  const uint64_t pushed = q.stats().batches - pushed_before;
  // What is left is the queue's own deque, a node per three batches; fresh buffers cost three
  // allocations per batch (72 for these 24 batches).
  CHECK(pushed >= 16);
  CHECK(news.load() <= pushed / 3 + 1);
  CHECK_EQ(lines, 12u * 1000u);
  CHECK_EQ(q.stats().dropped_records, 0u);
#endif
}
