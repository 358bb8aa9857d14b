// ShadowExtractor: HTTP/1 exchanges paired as production answered them (pipelining, chunked,
// HEAD, 100-continue, close-delimited bodies, split at every byte), what is skipped and why
// (TLS, not HTTP, methods, too large, gaps, the percent share), raw turns, and the JSON lines
// and data slices JavaScript reads (Contract 1).
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "shadow/extractor.h"
#include "shadow/shadow_lines.h"

using namespace podspan;
using shadow_test::bytes;
using shadow_test::field;
using shadow_test::Line;
using shadow_test::Lines;
using shadow_test::resp_at;

namespace {

ExchangeQueueOptions roomy() {
  ExchangeQueueOptions q;
  q.queue_max_batches = 1 << 20;
  q.batch_max_bytes = 1 << 20;
  return q;
}

// One connection, side[0] (10.0.0.1:40000) the client of side[1] (10.0.0.2:80).
struct Conv {
  ExchangeQueue q{roomy()};
  ShadowExtractor x;
  StreamInfo s;
  uint64_t off[2] = {0, 0};
  uint64_t ts = 1'700'000'000'000'000'000ull;

  explicit Conv(ShadowOptions o = {}, uint16_t client_port = 40000, uint16_t server_port = 80) : x(std::move(o), q) {
    s.id = 7;
    s.slot = 3;
    s.side[0].addr[0] = 10;
    s.side[0].addr[3] = 1;
    s.side[0].port = client_port;
    s.side[1].addr[0] = 10;
    s.side[1].addr[3] = 2;
    s.side[1].port = server_port;
    s.first_ts = ts;
  }
  void open(int syn_from = 0) {
    x.on_open(s);
    x.on_first_segment(s, syn_from);
  }
  void send(int dir, const std::string& b, uint64_t step = 1'000'000) {
    ts += step;
    x.on_data(s, dir, off[dir], reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size()), ts);
    off[dir] += b.size();
  }
  void client(const std::string& b) { send(0, b); }
  void server(const std::string& b) { send(1, b); }
  void gap(int dir, uint64_t n) {
    x.on_gap(s, dir, off[dir], n);
    off[dir] += n;
  }
  Lines close() {
    ts += 1'000'000;
    x.on_close(s, CloseReason::kFin, ts);
    Lines l;
    l.drain(q);
    return l;
  }
};

const std::string kRequests =
    "GET /api/users/12345?x=1 HTTP/1.1\r\nHost: shop\r\nX-Trace: a\r\n\r\n"
    "POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 11\r\n\r\n{\"id\":42}\r\n"
    "PUT /items/deadbeef01 HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
const std::string kResponses =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\n[1,2]"
    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmade\r\n0\r\n\r\n"
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";

}  // namespace

TEST(shadow_pipelined_chunked_and_close_delimited_exchanges) {
  Conv c;
  c.open();
  c.client(kRequests);
  c.server(kResponses);
  const Lines l = c.close();
  CHECK_EQ(l.lines.size(), 5u);
  CHECK_EQ(l.lines.front().json,
           "{\"t\":\"open\",\"conn\":\"7\",\"client\":\"10.0.0.1\",\"client_port\":40000,\"server\":\"10.0.0.2\",\"server_port\":80,"
           "\"ts_ms\":1700000000000.000}");
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 3u);
  if (h.size() != 3) return;
  CHECK_EQ(field(h[0].json, "seq"), "1");
  CHECK_EQ(field(h[0].json, "method"), "\"GET\"");
  CHECK_EQ(field(h[0].json, "target"), "\"/api/users/12345?x=1\"");
  CHECK_EQ(field(h[0].json, "path"), "\"/api/users/12345\"");
  CHECK_EQ(field(h[0].json, "route"), "\"/api/users/{id}\"");
  CHECK_EQ(field(h[0].json, "host"), "\"shop\"");
  CHECK_EQ(field(h[0].json, "version"), "\"1.1\"");
  CHECK_EQ(field(h[0].json, "headers"), "[[\"Host\",\"shop\"],[\"X-Trace\",\"a\"]]");
  CHECK_EQ(bytes(h[0], "body"), "");
  CHECK_EQ(field(h[0].json, "status", resp_at(h[0])), "200");
  CHECK_EQ(field(h[0].json, "headers", resp_at(h[0])), "[[\"Content-Length\",\"5\"],[\"Content-Type\",\"application/json\"]]");
  CHECK_EQ(bytes(h[0], "body", resp_at(h[0])), "[1,2]");
  CHECK_EQ(field(h[0].json, "ts_ms"), "1700000000001.000");
  CHECK_EQ(field(h[0].json, "latency_ms", resp_at(h[0])), "1.000");  // the request's last byte to the answer's first
  CHECK_EQ(bytes(h[1], "body"), "{\"id\":42}\r\n");
  CHECK_EQ(field(h[1].json, "body_length"), "11");
  CHECK_EQ(field(h[1].json, "status", resp_at(h[1])), "201");
  CHECK_EQ(bytes(h[1], "body", resp_at(h[1])), "made");  // chunk framing removed
  CHECK_EQ(field(h[2].json, "route"), "\"/items/{id}\"");
  CHECK_EQ(bytes(h[2], "body"), "abcde");
  CHECK_EQ(field(h[2].json, "seq"), "3");
  CHECK_EQ(bytes(h[2], "body", resp_at(h[2])), "until the end");  // ended by the close
  CHECK_EQ(field(h[2].json, "body_truncated", resp_at(h[2])), "false");
  CHECK_EQ(l.lines.back().json.compare(0, 27, "{\"t\":\"close\",\"conn\":\"7\",\"ts"), 0);
}

TEST(shadow_exchanges_are_the_same_at_every_split) {
  std::string want;
  {
    Conv c;
    c.open();
    c.send(0, kRequests, 0);
    c.send(1, kResponses, 0);
    const Lines l = c.close();
    for (const Line& line : l.lines) want += line.json + "\n";
    want += l.lines.back().data;
  }
  for (size_t cut = 1; cut < kResponses.size(); cut += 3) {
    Conv c;
    c.open();
    // Requests one byte per segment; the responses cut in two, interleaved with nothing.
    for (char ch : kRequests) c.send(0, std::string(1, ch), 0);
    c.send(1, kResponses.substr(0, cut), 0);
    c.send(1, kResponses.substr(cut), 0);
    const Lines l = c.close();
    std::string got;
    for (const Line& line : l.lines) got += line.json + "\n";
    got += l.lines.back().data;
    CHECK_EQ(got, want);
    if (got != want) return;
  }
}

TEST(shadow_head_response_has_no_body_and_pairing_goes_on) {
  Conv c;
  c.open();
  c.client("HEAD /big HTTP/1.1\r\nHost: a\r\n\r\nGET /small HTTP/1.1\r\nHost: a\r\n\r\n");
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno");
  const std::vector<Line> h = c.close().of_type("http");
  CHECK_EQ(h.size(), 2u);
  if (h.size() != 2) return;
  CHECK_EQ(field(h[0].json, "status", resp_at(h[0])), "200");
  CHECK_EQ(field(h[0].json, "body_length", resp_at(h[0])), "0");
  CHECK_EQ(field(h[1].json, "path"), "\"/small\"");
  CHECK_EQ(field(h[1].json, "status", resp_at(h[1])), "404");
  CHECK_EQ(bytes(h[1], "body", resp_at(h[1])), "no");
}

TEST(shadow_100_continue_pairs_the_final_response) {
  Conv c;
  c.open();
  c.client("POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  c.server("HTTP/1.1 100 Continue\r\n\r\n");
  c.client("data");
  c.server("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  const Lines l = c.close();
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 1u);
  if (h.size() != 1) return;
  CHECK_EQ(bytes(h[0], "body"), "data");
  CHECK_EQ(field(h[0].json, "status", resp_at(h[0])), "201");
  CHECK_EQ(l.skips(), "");
}

TEST(shadow_methods_filter_skips_and_keeps_the_pairing) {
  ShadowOptions o;
  o.methods = {"GET", "HEAD", "OPTIONS"};
  Conv c(o);
  c.open();
  c.client("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /3 HTTP/1.1\r\n\r\n");
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 500 No\r\nContent-Length: 1\r\n\r\nbHTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\nc");
  const Lines l = c.close();
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 2u);
  if (h.size() != 2) return;
  CHECK_EQ(field(h[1].json, "path"), "\"/3\"");
  CHECK_EQ(field(h[1].json, "seq"), "3");
  CHECK_EQ(field(h[1].json, "status", resp_at(h[1])), "202");
  CHECK_EQ(bytes(h[1], "body", resp_at(h[1])), "c");
  CHECK_EQ(l.skips(), "method,");
  CHECK_EQ(c.x.stats().skipped[static_cast<size_t>(SkipReason::kMethod)], 1u);
}

TEST(shadow_request_body_over_the_cap_is_too_large_response_body_is_truncated) {
  ShadowOptions o;
  o.max_request_bytes = 4;
  o.max_body_bytes = 3;
  Conv c(o);
  c.open();
  c.client("POST /big HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /ok HTTP/1.1\r\n\r\n");
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef");
  const Lines l = c.close();
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(l.skips(), "too_large,");
  CHECK_EQ(h.size(), 1u);
  if (h.size() != 1) return;
  CHECK_EQ(field(h[0].json, "path"), "\"/ok\"");
  CHECK_EQ(bytes(h[0], "body", resp_at(h[0])), "abc");
  CHECK_EQ(field(h[0].json, "body_length", resp_at(h[0])), "6");
  CHECK_EQ(field(h[0].json, "body_truncated", resp_at(h[0])), "true");
}

TEST(shadow_gap_in_the_responses_skips_what_waited) {
  Conv c;
  c.open();
  c.client("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
  c.gap(1, 100);
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
  c.client("GET /3 HTTP/1.1\r\n\r\n");
  const Lines l = c.close();
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 1u);
  CHECK_EQ(l.skips(), "gap,");
  if (h.size() == 1) CHECK_EQ(bytes(h[0], "body", resp_at(h[0])), "a");
}

TEST(shadow_gap_in_a_request_skips_it_and_pairs_the_rest) {
  Conv c;
  c.open();
  c.client("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 200\r\n\r\nabc");
  c.gap(0, 50);
  c.client(std::string(147, 'x'));
  c.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
  const Lines l = c.close();
  const std::vector<Line> h = l.of_type("http");
  CHECK_EQ(h.size(), 1u);
  CHECK_EQ(l.skips(), "gap,");
  if (h.size() == 1) CHECK_EQ(bytes(h[0], "body", resp_at(h[0])), "a");
}

TEST(shadow_unanswered_request_has_resp_null) {
  Conv c;
  c.open();
  c.client("GET /slow HTTP/1.1\r\n\r\n");
  const std::vector<Line> h = c.close().of_type("http");
  CHECK_EQ(h.size(), 1u);
  if (h.size() == 1) {
    CHECK_EQ(field(h[0].json, "resp"), "null");
    CHECK_EQ(field(h[0].json, "note"), "\"no_response\"");
  }
}

TEST(shadow_tls_client_hello_is_skipped_tls) {
  Conv c({}, 40000, 443);
  c.open();
  c.client(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  c.server(std::string("\x16\x03\x03\x00\x7a\x02", 6));
  const Lines l = c.close();
  CHECK_EQ(l.skips(), "tls,");
  CHECK_EQ(l.lines.size(), 1u);  // no open, no close
  CHECK_EQ(c.x.stats().connections, 0u);
}

TEST(shadow_other_protocols_are_not_http_or_h2_midstream) {
  {
    Conv c;
    c.open();
    c.client("\x01\x02\x03 hello");
    CHECK_EQ(c.close().skips(), "not_http,");
  }
  {
    Conv c;
    c.open(-1);
    // A HEADERS frame header (length 5, type 1, END_HEADERS, stream 1): HTTP/2 without its preface.
    c.client(std::string("\x00\x00\x05\x01\x04\x00\x00\x00\x01\x82\x86\x84\x41\x8a", 14));
    CHECK_EQ(c.close().skips(), "h2-midstream,");
  }
}

TEST(shadow_percent_is_by_connection_and_agrees_both_ways) {
  int in = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    StreamInfo s, r;
    s.side[0].addr[0] = 10;
    s.side[0].addr[2] = static_cast<uint8_t>(i >> 8);
    s.side[0].addr[3] = static_cast<uint8_t>(i);
    s.side[0].port = static_cast<uint16_t>(30000 + i % 1000);
    s.side[1].addr[0] = 10;
    s.side[1].addr[3] = 2;
    s.side[1].port = 80;
    r = s;
    std::swap(r.side[0], r.side[1]);
    const bool a = shadow_percent_selects(s, 30), b = shadow_percent_selects(r, 30);
    CHECK_EQ(a, b);
    if (a != b) return;
    in += a;
    CHECK(shadow_percent_selects(s, 100));
    CHECK(!shadow_percent_selects(s, 0));
  }
  CHECK(in > n * 28 / 100 && in < n * 32 / 100);
  // A connection out of the share: one skip line, nothing else.
  ShadowOptions o;
  o.percent = 0.001;
  Conv c(o);
  c.open();
  c.client("GET / HTTP/1.1\r\n\r\n");
  const Lines l = c.close();
  if (!shadow_percent_selects(c.s, 0.001)) {
    CHECK_EQ(l.skips(), "percent,");
    CHECK_EQ(l.lines.size(), 1u);
  }
}

TEST(shadow_raw_turns_change_with_the_direction) {
  ShadowOptions o;
  o.raw = true;
  o.server_ports = {6379};
  Conv c(o, 50000, 6379);
  c.open(-1);  // no SYN: the server port says who is who
  c.client("*1\r\n$4\r\n");
  c.client("PING\r\n");
  c.server("+PO");
  c.server("NG\r\n");
  c.client("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  c.server("$1\r\nv\r\n");
  c.client("*1\r\n$4\r\nQUIT\r\n");
  const Lines l = c.close();
  const std::vector<Line> t = l.of_type("turn");
  CHECK_EQ(t.size(), 3u);
  if (t.size() != 3) return;
  CHECK_EQ(bytes(t[0], "request"), "*1\r\n$4\r\nPING\r\n");
  CHECK_EQ(bytes(t[0], "reply"), "+PONG\r\n");
  CHECK_EQ(field(t[0].json, "latency_ms"), "1.000");
  CHECK_EQ(field(t[0].json, "duration_ms"), "2.000");
  CHECK_EQ(bytes(t[1], "reply"), "$1\r\nv\r\n");
  CHECK_EQ(bytes(t[2], "request"), "*1\r\n$4\r\nQUIT\r\n");
  CHECK_EQ(bytes(t[2], "reply"), "");
  CHECK_EQ(field(t[2].json, "latency_ms"), "null");
  CHECK_EQ(field(t[2].json, "seq"), "3");
}

TEST(shadow_raw_ignores_other_ports_and_bounds_turns) {
  ShadowOptions o;
  o.raw = true;
  o.server_ports = {6379};
  o.max_request_bytes = 8;
  o.max_body_bytes = 4;
  {
    Conv c(o, 50000, 80);
    c.open();
    c.client("hello");
    CHECK_EQ(c.close().lines.size(), 0u);
  }
  Conv c(o, 50000, 6379);
  c.open();
  c.client("0123456789");  // 10 > 8: too large
  c.server("ok");
  c.client("short");
  c.server("0123456");
  const Lines l = c.close();
  CHECK_EQ(l.skips(), "too_large,");
  const std::vector<Line> t = l.of_type("turn");
  CHECK_EQ(t.size(), 1u);
  if (t.size() == 1) {
    CHECK_EQ(bytes(t[0], "reply"), "0123");
    CHECK_EQ(field(t[0].json, "reply_truncated"), "true");
  }
}

TEST(shadow_raw_server_greeting_is_a_turn_without_request) {
  ShadowOptions o;
  o.raw = true;
  Conv c(o, 50000, 3306);
  c.open();
  c.server("greeting");
  c.client("login");
  c.server("ok");
  const std::vector<Line> t = c.close().of_type("turn");
  CHECK_EQ(t.size(), 2u);
  if (t.size() == 2) {
    CHECK_EQ(bytes(t[0], "request"), "");
    CHECK_EQ(bytes(t[0], "reply"), "greeting");
    CHECK_EQ(bytes(t[1], "request"), "login");
    CHECK_EQ(bytes(t[1], "reply"), "ok");
  }
}
