// AppAnalyzer: stream events in, records out. HTTP/1 pairing (pipelining, HEAD, 100-continue,
// unanswered requests, the queue cap, gaps), h2c by prior knowledge and by Upgrade with real
// HPACK blocks, gRPC status, midstream HTTP/2 counted not decoded, DNS over UDP (pairing,
// timeout, table cap) and TCP, routes.
#include <string>
#include <vector>

#include "analysis/app_analyzer.h"
#include "check.h"
#include "kept_records.h"
#include "protocols/h2_frames.h"

using namespace podspan;

namespace {

using Records = podspan_test::KeptRecords;

StreamInfo stream(uint64_t id, uint32_t slot, uint16_t port0 = 40000, uint16_t port1 = 80) {
  StreamInfo s;
  s.id = id;
  s.slot = slot;
  s.ip_version = 4;
  s.side[0].addr[0] = 10;
  s.side[0].addr[3] = 1;
  s.side[0].port = port0;
  s.side[1].addr[0] = 10;
  s.side[1].addr[3] = 2;
  s.side[1].port = port1;
  return s;
}

// Feeds one direction's bytes as the reassembler would: consecutive offsets.
struct Side {
  AppAnalyzer& a;
  const StreamInfo& s;
  int dir;
  uint64_t offset = 0;
  void send(const std::string& bytes, uint64_t ts) {
    a.on_data(s, dir, offset, reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<uint32_t>(bytes.size()), ts);
    offset += bytes.size();
  }
};

constexpr uint64_t kMs = 1000000;

}  // namespace

TEST(app_routes_and_paths) {
  std::string path, route;
  http_path("/users/42/items?x=1#f", path);
  CHECK_EQ(path, "/users/42/items");
  http_route(path, route);
  CHECK_EQ(route, "/users/{id}/items");
  http_route("/o/123e4567-e89b-12d3-a456-426614174000/deadbeef01/v2/abc1234/DEADBEEF", route);
  CHECK_EQ(route, "/o/{id}/{id}/v2/abc1234/{id}");
  http_route("/", route);
  CHECK_EQ(route, "/");
  http_route("/a//b/", route);
  CHECK_EQ(route, "/a//b/");
  http_path("http://proxy.example:8080/x/9?q", path);
  CHECK_EQ(path, "/x/9");
  http_path("http://host", path);
  CHECK_EQ(path, "/");
  http_path("example.com:443", path);
  CHECK_EQ(path, "example.com:443");
}

TEST(app_http1_pipelined_requests_pair_in_order) {
  const std::string requests =
      "GET /users/17?full=1 HTTP/1.1\r\nHost: api\r\n\r\n"
      "HEAD /files/deadbeef00 HTTP/1.1\r\nHost: api\r\n\r\n"
      "POST /orders HTTP/1.1\r\nHost: api\r\nContent-Length: 4\r\n\r\nbody";
  const std::string r1 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  const std::string r2 = "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";  // HEAD: no body
  const std::string r3 = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
  const size_t first = requests.find("HEAD"), second = requests.find("POST");
  int before = check::failures_in_case();
  for (size_t cut = 0; cut <= requests.size(); ++cut) {
    Records out;
    AppAnalyzer a(out);
    const StreamInfo s = stream(7, 3);
    a.on_open(s);
    Side client{a, s, 0}, server{a, s, 1};
    if (cut > 0) client.send(requests.substr(0, cut), 10 * kMs);
    if (cut < requests.size()) client.send(requests.substr(cut), 11 * kMs);
    server.send(r1 + r2.substr(0, 10), 20 * kMs);
    server.send(r2.substr(10) + r3, 30 * kMs);
    CHECK_EQ(std::string(a.app_of(3)), "http");
    a.on_close(s, CloseReason::kFin, 40 * kMs);
    CHECK_EQ(out.http_records.size(), 3u);
    if (out.http_records.size() != 3) return;
    const HttpRecord &a1 = out.http_records[0], &a2 = out.http_records[1], &a3 = out.http_records[2];
    CHECK_EQ(a1.uid, 7u);
    CHECK_EQ(a1.method, "GET");
    CHECK_EQ(a1.path, "/users/17");
    CHECK_EQ(a1.route, "/users/{id}");
    CHECK_EQ(a1.host, "api");
    CHECK_EQ(a1.version, "1.1");
    CHECK_EQ(a1.status, 200);
    CHECK_EQ(a1.request_bytes, first);
    CHECK_EQ(a1.response_bytes, r1.size());
    const uint64_t a1_last = cut >= first ? 10 * kMs : 11 * kMs;
    CHECK_EQ(a1.ts, cut > 0 ? 10 * kMs : 11 * kMs);
    CHECK_EQ(a1.latency, 20 * kMs - a1_last);
    CHECK_EQ(a1.duration, 20 * kMs - a1_last);
    CHECK_EQ(a2.method, "HEAD");
    CHECK_EQ(a2.route, "/files/{id}");
    CHECK_EQ(a2.response_bytes, r2.size());
    CHECK_EQ(a2.duration, 30 * kMs - (cut >= second ? 10 * kMs : 11 * kMs));
    CHECK_EQ(a3.method, "POST");
    CHECK_EQ(a3.status, 503);
    CHECK_EQ(a3.request_bytes, requests.size() - second);
    CHECK(a3.note.empty());
    CHECK_EQ(a.stats().http_requests, 3u);
    CHECK_EQ(a.stats().http_responses, 3u);
    // The client is side[0]: 10.0.0.1:40000.
    CHECK_EQ(int(a1.ends.client[3]), 1);
    CHECK_EQ(a1.ends.client_port, 40000);
    CHECK_EQ(a1.ends.server_port, 80);
    if (check::failures_in_case() != before) {
      std::fprintf(stderr, "  (cut at %zu)\n", cut);
      return;
    }
  }
}

TEST(app_http1_100_continue_unanswered_and_client_side) {
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(9, 0, 8080, 51000);
  a.on_open(s);
  a.set_client_side(0, 1);  // side[1] (port 51000) is the client
  Side client{a, s, 1}, server{a, s, 0};
  client.send("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 1 * kMs);
  server.send("HTTP/1.1 100 Continue\r\n\r\n", 2 * kMs);
  client.send("abc", 3 * kMs);
  server.send("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 5 * kMs);
  client.send("GET /never HTTP/1.1\r\nHost: h\r\n\r\n", 6 * kMs);
  a.on_close(s, CloseReason::kRst, 7 * kMs);
  CHECK_EQ(out.http_records.size(), 2u);
  if (out.http_records.size() != 2) return;
  const HttpRecord& put = out.http_records[0];
  CHECK_EQ(put.status, 201);
  CHECK_EQ(put.latency, 2 * kMs);  // request's last byte (3 ms) to the final response's first (5 ms)
  CHECK_EQ(put.ends.client_port, 51000);
  CHECK_EQ(put.ends.server_port, 8080);
  const HttpRecord& never = out.http_records[1];
  CHECK_EQ(never.path, "/never");
  CHECK_EQ(never.status, 0);
  CHECK_EQ(never.note, "no_response");
  CHECK_EQ(never.latency, kUnknownNs);
  CHECK_EQ(a.stats().no_response, 1u);
}

TEST(app_http1_read_until_close_gap_and_queue_cap) {
  {
    Records out;
    AppAnalyzer a(out);
    const StreamInfo s = stream(1, 0);
    a.on_open(s);
    Side client{a, s, 0}, server{a, s, 1};
    client.send("GET /old HTTP/1.0\r\n\r\n", 1);
    server.send("HTTP/1.0 200 OK\r\n\r\npart one ", 2);
    server.send("part two", 3);
    a.on_close(s, CloseReason::kFin, 4);
    CHECK_EQ(out.http_records.size(), 1u);
    if (out.http_records.size() == 1) {
      CHECK_EQ(out.http_records[0].status, 200);
      CHECK_EQ(out.http_records[0].version, "1.0");
      CHECK_EQ(out.http_records[0].duration, 2u);
    }
  }
  {
    Records out;
    AppAnalyzer a(out);
    const StreamInfo s = stream(2, 0);
    a.on_open(s);
    Side client{a, s, 0}, server{a, s, 1};
    client.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 1);
    server.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", 2);
    a.on_gap(s, 1, server.offset, 100);
    a.on_close(s, CloseReason::kFin, 4);
    CHECK_EQ(out.http_records.size(), 2u);
    if (out.http_records.size() == 2) {
      CHECK_EQ(out.http_records[0].note, "gap");
      CHECK_EQ(out.http_records[1].note, "gap");
    }
    CHECK_EQ(a.stats().gaps, 1u);
  }
  {
    Records out;
    AppAnalyzerLimits lim;
    lim.max_pending_requests = 2;
    AppAnalyzer a(out, lim);
    const StreamInfo s = stream(3, 0);
    a.on_open(s);
    Side client{a, s, 0}, server{a, s, 1};
    client.send("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n", 1);
    CHECK_EQ(a.stats().pending_dropped, 1u);
    CHECK_EQ(out.http_records.size(), 1u);
    server.send("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 2);
    a.on_close(s, CloseReason::kFin, 4);
    CHECK_EQ(out.http_records.size(), 3u);
    if (out.http_records.size() == 3) {
      CHECK_EQ(out.http_records[0].path, "/3");
      CHECK_EQ(out.http_records[0].note, "queue_full");
      CHECK_EQ(out.http_records[1].path, "/1");
      CHECK_EQ(out.http_records[1].status, 204);
      CHECK_EQ(out.http_records[2].path, "/2");
    }
  }
}

TEST(app_h2c_upgrade_with_real_hpack) {
  using namespace h2test;
  Encoder cenc, senc;
  const std::string upgrade =
      "GET /items/5 HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
  const std::string switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  // The server's HTTP/2 comes in the same segment as its 101.
  const std::string server_h2 = settings({}) + senc.headers(1, {{":status", "200"}, {"content-type", "text/plain"}}, false) +
                                frame(0, 1, 1, "five!");
  const std::string client_h2 = kPreface + settings({}) + settings({}, true) +
                                cenc.headers(3, {{":method", "DELETE"}, {":path", "/items/6?force=1"}, {":authority", "shop"}, {":scheme", "http"}}, true);
  const std::string server_h2_more = senc.headers(3, {{":status", "404"}}, true);
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(11, 2);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  client.send(upgrade, 1 * kMs);
  server.send(switching + server_h2, 2 * kMs);
  client.send(client_h2, 3 * kMs);
  server.send(server_h2_more, 4 * kMs);
  CHECK_EQ(std::string(a.app_of(2)), "h2");
  a.on_close(s, CloseReason::kFin, 5 * kMs);
  CHECK_EQ(out.http_records.size(), 2u);
  CHECK_EQ(a.stats().h2c_upgrades, 1u);
  CHECK_EQ(a.stats().parse_errors, 0u);
  if (out.http_records.size() != 2) return;
  const HttpRecord& one = out.http_records[0];
  CHECK_EQ(one.version, "2");
  CHECK_EQ(one.stream_id, 1u);
  CHECK_EQ(one.method, "GET");
  CHECK_EQ(one.path, "/items/5");
  CHECK_EQ(one.route, "/items/{id}");
  CHECK_EQ(one.host, "shop");
  CHECK_EQ(one.status, 200);
  CHECK_EQ(one.latency, 1 * kMs);
  const HttpRecord& three = out.http_records[1];
  CHECK_EQ(three.stream_id, 3u);
  CHECK_EQ(three.method, "DELETE");
  CHECK_EQ(three.path, "/items/6");
  CHECK_EQ(three.status, 404);
  CHECK_EQ(three.latency, 1 * kMs);
}

TEST(app_grpc_prior_knowledge_and_midstream_h2) {
  using namespace h2test;
  Encoder cenc, senc;
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(12, 0, 40000, 50051);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  client.send(kPreface + settings({}) +
                  cenc.headers(1, {{":method", "POST"}, {":path", "/shop.Cart/Add"}, {":authority", "cart:50051"}, {":scheme", "http"},
                                   {"content-type", "application/grpc+proto"}}, false) +
                  frame(0, 1, 1, std::string("\0\0\0\0\x02hi", 7)),
              1 * kMs);
  server.send(settings({}) + senc.headers(1, {{":status", "200"}, {"content-type", "application/grpc"}}, false) +
                  senc.headers(1, {{"grpc-status", "5"}}, true),
              3 * kMs);
  CHECK_EQ(std::string(a.app_of(0)), "grpc");
  CHECK_EQ(out.http_records.size(), 1u);
  if (!out.http_records.empty()) {
    CHECK_EQ(out.http_records[0].grpc_status, 5);
    CHECK_EQ(out.http_records[0].route, "/shop.Cart/Add");
    CHECK_EQ(out.http_records[0].status, 200);
    CHECK_EQ(out.http_records[0].duration, 2 * kMs);
  }
  a.on_close(s, CloseReason::kFin, 4 * kMs);
  CHECK_EQ(a.stats().grpc_calls, 1u);

  // Picked up midstream: frames without a preface. Counted, never decoded.
  const StreamInfo m = stream(13, 1, 40001, 50051);
  a.on_open(m);
  Side mc{a, m, 0}, ms{a, m, 1};
  ms.send(senc.headers(9, {{":status", "200"}}, false) + frame(0, 0, 9, "xyz"), 5 * kMs);
  mc.send(frame(0, 0, 11, "abc") + frame(8, 0, 0, std::string("\0\0\x10\0", 4)), 6 * kMs);
  a.on_close(m, CloseReason::kFin, 7 * kMs);
  CHECK_EQ(a.stats().skipped_h2_midstream, 1u);
  CHECK_EQ(out.http_records.size(), 1u);
}

TEST(app_dns_udp_pairing_timeout_and_cap) {
  auto query = [](uint16_t id, bool response, uint8_t rcode, uint16_t answers) {
    std::string b = {char(id >> 8), char(id), char(response ? 0x81 : 0x01), char(response ? 0x80 | rcode : 0), 0, 1, 0,
                     char(answers), 0, 0, 0, 0};
    b += std::string("\x03" "www" "\x07" "example" "\x03" "com" "\x00", 17);
    b += std::string("\x00\x1c\x00\x01", 4);
    return b;
  };
  RecordEndpoints q;  // 10.0.0.1:5353 -> 10.0.0.53:53
  q.client[0] = 10;
  q.client[3] = 1;
  q.server[0] = 10;
  q.server[3] = 53;
  q.client_port = 5353;
  q.server_port = 53;
  RecordEndpoints r = q;  // the answer, as seen: from the server
  std::swap(r.client, r.server);
  std::swap(r.client_port, r.server_port);
  auto send = [](AppAnalyzer& a, const RecordEndpoints& e, const std::string& m, uint64_t ts) {
    a.on_udp(e, reinterpret_cast<const uint8_t*>(m.data()), static_cast<uint32_t>(m.size()), ts);
  };
  Records out;
  AppAnalyzerLimits lim;
  lim.max_dns_pending = 3;
  lim.dns_timeout_ns = 1000 * kMs;
  AppAnalyzer a(out, lim);
  send(a, q, query(1, false, 0, 0), 10 * kMs);
  send(a, q, query(2, false, 0, 0), 11 * kMs);
  send(a, r, query(1, true, 3, 0), 14 * kMs);  // NXDOMAIN for 1
  send(a, r, query(9, true, 0, 1), 15 * kMs);  // nobody asked
  CHECK_EQ(out.dns_records.size(), 1u);
  if (!out.dns_records.empty()) {
    const DnsRecord& d = out.dns_records[0];
    CHECK_EQ(d.trans_id, 1);
    CHECK_EQ(d.query, "www.example.com");
    CHECK_EQ(d.qtype, 28);
    CHECK_EQ(d.rcode, 3);
    CHECK_EQ(d.latency, 4 * kMs);
    CHECK_EQ(d.proto, "udp");
    CHECK_EQ(d.ends.client_port, 5353);
    CHECK_EQ(int(d.ends.server[3]), 53);
  }
  CHECK_EQ(a.stats().dns_unmatched_responses, 1u);
  send(a, q, query(3, false, 0, 0), 12 * kMs);
  send(a, q, query(4, false, 0, 0), 12 * kMs);
  send(a, q, query(5, false, 0, 0), 12 * kMs);  // 2, 3, 4 pending: the table is full
  CHECK_EQ(a.stats().dns_table_full, 1u);
  CHECK_EQ(out.dns_records.size(), 2u);
  a.expire(500 * kMs);
  CHECK_EQ(out.dns_records.size(), 2u);
  a.expire(1011 * kMs);  // 2 times out (asked at 11 ms); 3 and 4 not yet
  CHECK_EQ(out.dns_records.size(), 3u);
  CHECK_EQ(out.dns_records.back().trans_id, 2);
  CHECK_EQ(out.dns_records.back().rcode, -1);
  send(a, r, query(4, true, 0, 2), 20 * kMs);
  CHECK_EQ(out.dns_records.back().trans_id, 4);
  CHECK_EQ(out.dns_records.back().answers, 2);
  a.finish(2000 * kMs);
  CHECK_EQ(out.dns_records.size(), 5u);
  CHECK_EQ(a.stats().dns_timeouts, 2u);
  // Many queries through a small table: every one answered, none lost to probing.
  Records many;
  lim.max_dns_pending = 64;
  AppAnalyzer b(many, lim);
  for (uint16_t id = 0; id < 2000; ++id) {
    send(b, q, query(id, false, 0, 0), id);
    if (id >= 40) send(b, r, query(static_cast<uint16_t>(id - 40), true, 0, 1), id);
  }
  for (uint16_t id = 1960; id < 2000; ++id) send(b, r, query(id, true, 0, 1), 5000);
  CHECK_EQ(many.dns_records.size(), 2000u);
  CHECK_EQ(b.stats().dns_unmatched_responses, 0u);
  CHECK_EQ(b.stats().dns_table_full, 0u);
}

TEST(app_dns_over_tcp) {
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(21, 5, 41000, 53);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  std::string qm = std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) + std::string("\x01" "a" "\x02" "io" "\x00", 6) +
                   std::string("\x00\x01\x00\x01", 4);
  std::string rm = qm;
  rm[2] = char(0x81);
  rm[3] = char(0x80);
  rm[7] = 1;
  auto framed = [](const std::string& m) { return std::string{char(m.size() >> 8), char(m.size())} + m; };
  client.send(framed(qm).substr(0, 5), 1 * kMs);
  client.send(framed(qm).substr(5), 2 * kMs);
  server.send(framed(rm), 9 * kMs);
  CHECK_EQ(std::string(a.app_of(5)), "dns");
  a.on_close(s, CloseReason::kFin, 10 * kMs);
  CHECK_EQ(out.dns_records.size(), 1u);
  if (out.dns_records.empty()) return;
  CHECK_EQ(out.dns_records[0].proto, "tcp");
  CHECK_EQ(out.dns_records[0].uid, 21u);
  CHECK_EQ(out.dns_records[0].query, "a.io");
  CHECK_EQ(out.dns_records[0].latency, 8 * kMs);
  CHECK_EQ(out.dns_records[0].answers, 1);
}

TEST(app_server_first_bytes_wait_for_the_client) {
  using namespace h2test;
  Encoder cenc, senc;
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(30, 0, 40000, 8080);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  server.send(settings({{3, 100}}), 1 * kMs);  // the server's SETTINGS before the client's preface
  client.send(kPreface + settings({}) + cenc.headers(1, {{":method", "GET"}, {":path", "/"}, {":authority", "x"}, {":scheme", "http"}}, true),
              2 * kMs);
  server.send(senc.headers(1, {{":status", "204"}}, true), 3 * kMs);
  CHECK_EQ(out.http_records.size(), 1u);
  if (!out.http_records.empty()) CHECK_EQ(out.http_records[0].status, 204);
  CHECK_EQ(a.stats().skipped_h2_midstream, 0u);
  a.on_close(s, CloseReason::kFin, 4 * kMs);
  // A slot reused by a plain non-HTTP stream: nothing recognised, nothing recorded.
  const StreamInfo t = stream(31, 0, 40001, 6379);
  a.on_open(t);
  Side c2{a, t, 0};
  c2.send("*1\r\n$4\r\nPING\r\n", 5 * kMs);
  CHECK_EQ(std::string(a.app_of(0)), "");
  a.on_close(t, CloseReason::kFin, 6 * kMs);
  CHECK_EQ(out.http_records.size(), 1u);
}

TEST(app_http1_resync_after_a_gap_pairs_with_the_newest_request) {
  // One request at a time (as browsers send them); the server's direction loses the end of
  // the first response and the whole second one. Parsing starts again at the third response,
  // which answers the newest request sent before it; the second lost its answer.
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(40, 0);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  client.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n", 1 * kMs);
  server.send("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\npart", 2 * kMs);
  client.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n", 3 * kMs);
  client.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n", 5 * kMs);
  a.on_gap(s, 1, server.offset, 8000);
  server.offset += 8000;
  server.send("body bytes that do not start a message", 4 * kMs);  // not a message start: skipped
  server.send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 6 * kMs);
  a.on_close(s, CloseReason::kFin, 7 * kMs);
  CHECK_EQ(out.http_records.size(), 3u);
  CHECK_EQ(a.stats().http1_resyncs, 1u);
  if (out.http_records.size() != 3) return;
  CHECK_EQ(out.http_records[0].path, "/1");
  CHECK_EQ(out.http_records[0].status, 200);
  CHECK_EQ(out.http_records[0].note, "gap");
  CHECK_EQ(out.http_records[1].path, "/2");
  CHECK_EQ(out.http_records[1].status, 0);
  CHECK_EQ(out.http_records[1].note, "gap");
  CHECK_EQ(out.http_records[2].path, "/3");
  CHECK_EQ(out.http_records[2].status, 404);
  CHECK_EQ(out.http_records[2].latency, 1 * kMs);
}

TEST(app_midstream_http1_finds_the_client_by_its_first_line) {
  // Picked up without the handshake, the server spoke first: side[0] is the server.
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(41, 0, 80, 40000);
  a.on_open(s);
  Side server{a, s, 0}, client{a, s, 1};
  server.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1 * kMs);  // answers a request we missed
  client.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 2 * kMs);
  server.send("HTTP/1.1 304 Not Modified\r\n\r\n", 3 * kMs);
  a.on_close(s, CloseReason::kFin, 4 * kMs);
  CHECK_EQ(a.stats().unmatched_responses, 1u);
  CHECK_EQ(out.http_records.size(), 1u);
  if (out.http_records.empty()) return;
  CHECK_EQ(out.http_records[0].status, 304);
  CHECK_EQ(out.http_records[0].ends.client_port, 40000);
  CHECK_EQ(out.http_records[0].ends.server_port, 80);
}

TEST(app_websocket_and_connect_tunnels_end_http1) {
  Records out;
  AppAnalyzer a(out);
  const StreamInfo s = stream(50, 0);
  a.on_open(s);
  Side client{a, s, 0}, server{a, s, 1};
  client.send("GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1 * kMs);
  server.send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 2 * kMs);
  client.send("\x81\x85\x01\x02\x03\x04 masked", 3 * kMs);
  server.send(std::string(100000, 'w'), 4 * kMs);
  a.on_close(s, CloseReason::kFin, 5 * kMs);
  CHECK_EQ(out.http_records.size(), 1u);
  if (!out.http_records.empty()) CHECK_EQ(out.http_records[0].status, 101);
  CHECK_EQ(a.stats().parse_errors, 0u);
  CHECK_EQ(a.stats().no_response, 0u);

  const StreamInfo t = stream(51, 0, 40001, 3128);
  a.on_open(t);
  Side c2{a, t, 0}, s2{a, t, 1};
  c2.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 6 * kMs);
  s2.send("HTTP/1.1 200 Connection established\r\n\r\n", 7 * kMs);
  c2.send(std::string("\x16\x03\x01\x00\x05hello", 10), 8 * kMs);
  s2.send(std::string("\x16\x03\x03\x00\x02hi", 7), 9 * kMs);
  a.on_close(t, CloseReason::kFin, 10 * kMs);
  CHECK_EQ(out.http_records.size(), 2u);
  if (out.http_records.size() == 2) {
    CHECK_EQ(out.http_records[1].method, "CONNECT");
    CHECK_EQ(out.http_records[1].path, "example.com:443");
    CHECK_EQ(out.http_records[1].status, 200);
  }
  CHECK_EQ(a.stats().parse_errors, 0u);
}
