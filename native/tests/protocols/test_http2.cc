// Http2Parser: prior knowledge and Upgrade, header blocks from nghttp2's real HPACK encoder
// (dynamic table, table size changes by SETTINGS), CONTINUATION, padding, priority, gRPC
// trailers, resets, streams over the cap, broken input, and the midstream heuristic.
#include <string>
#include <vector>

#include "check.h"
#include "protocols/h2_frames.h"
#include "protocols/http2.h"

using namespace podspan;
using namespace h2test;

namespace {

struct Seen : Http2Parser::Events {
  std::vector<Http2Stream> requests, done;
  std::vector<bool> complete;
  void on_request(const Http2Stream& s) override { requests.push_back(s); }
  void on_stream(const Http2Stream& s, bool c) override {
    done.push_back(s);
    complete.push_back(c);
  }
  const Http2Stream* stream(uint32_t id) const {
    for (const auto& s : done) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }
};

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// A prior-knowledge exchange: a plain GET answered 404, a gRPC call (padded DATA, trailers with
// grpc-status 14) and a second GET whose headers the encoder sends as dynamic-table indexes.
struct Exchange {
  std::string client, server;
  size_t client_first_headers = 0;  // where stream 1's HEADERS frame starts
  size_t grpc_response_bytes = 0;    // stream 3's frames from the server
  Exchange() {
    Encoder c, s;
    client = kPreface + settings({{3, 100}});
    client_first_headers = client.size();
    client += c.headers(1, {{":method", "GET"}, {":scheme", "http"}, {":path", "/a/b?x=1"}, {":authority", "svc:8080"}, {"user-agent", "t"}}, true);
    client += c.headers(3, {{":method", "POST"}, {":scheme", "http"}, {":path", "/pkg.Svc/Call"}, {":authority", "svc:8080"},
                            {"content-type", "application/grpc"}, {"te", "trailers"}}, false);
    // DATA, PADDED: pad length 4, 6 bytes of data, 4 of padding.
    client += frame(0, 0x8 | 0x1, 3, std::string("\x04", 1) + "abcdef" + std::string(4, '\0'));
    client += c.headers(5, {{":method", "GET"}, {":scheme", "http"}, {":path", "/a/b?x=1"}, {":authority", "svc:8080"}, {"user-agent", "t"}}, true);
    server = settings({{4, 65535}}) + settings({}, true);
    const std::string head3 = s.headers(3, {{":status", "200"}, {"content-type", "application/grpc"}}, false);
    const std::string head1 = s.headers(1, {{":status", "404"}}, true);
    const std::string data3 = frame(0, 0, 3, "12345");
    const std::string trailers3 = s.headers(3, {{"grpc-status", "14"}, {"grpc-message", "unavailable"}}, true);
    server += head3 + head1 + data3 + trailers3;
    grpc_response_bytes = head3.size() + data3.size() + trailers3.size();
    server += s.headers(5, {{":status", "200"}}, false);
    server += frame(0, 1, 5, "hello");
  }
};

void check_exchange(const Exchange& x, const Seen& seen, const Http2Parser& p) {
  CHECK_EQ(seen.requests.size(), 3u);
  CHECK_EQ(seen.done.size(), 3u);
  const Http2Stream* a = seen.stream(1);
  const Http2Stream* g = seen.stream(3);
  const Http2Stream* b = seen.stream(5);
  CHECK(a != nullptr && g != nullptr && b != nullptr);
  if (a == nullptr || g == nullptr || b == nullptr) return;
  CHECK_EQ(a->method, "GET");
  CHECK_EQ(a->path, "/a/b?x=1");
  CHECK_EQ(a->authority, "svc:8080");
  CHECK_EQ(a->status, 404);
  CHECK_EQ(a->grpc_status, -1);
  CHECK_EQ(a->request_start, x.client_first_headers);
  CHECK(a->request_ended && a->response_ended && !a->reset);
  CHECK_EQ(g->method, "POST");
  CHECK_EQ(g->path, "/pkg.Svc/Call");
  CHECK_EQ(g->content_type, "application/grpc");
  CHECK_EQ(g->status, 200);
  CHECK_EQ(g->grpc_status, 14);
  CHECK_EQ(g->request_data, 6u);
  CHECK_EQ(g->response_data, 5u);
  CHECK_EQ(g->response_bytes, x.grpc_response_bytes);
  // The second GET's header block is mostly dynamic-table indexes: decoded all the same.
  CHECK_EQ(b->path, "/a/b?x=1");
  CHECK_EQ(b->authority, "svc:8080");
  CHECK_EQ(b->status, 200);
  CHECK_EQ(b->response_data, 5u);
  CHECK_EQ(b->response_end, x.server.size());
  CHECK_EQ(b->request_end, x.client.size());
  CHECK_EQ(p.stats().errors, 0u);
}

}  // namespace

TEST(http2_prior_knowledge_exchange) {
  Exchange x;
  Seen seen;
  Http2Parser p(seen);
  p.start(0, 0);
  p.start(1, 0);
  p.feed(0, 0, u8(x.client), x.client.size(), 10);
  p.feed(1, 0, u8(x.server), x.server.size(), 20);
  check_exchange(x, seen, p);
  const Http2Stream* g = seen.stream(3);
  if (g == nullptr) return;
  CHECK_EQ(g->request_first_ts, 10u);
  CHECK_EQ(g->response_first_ts, 20u);
  CHECK_EQ(p.stats().streams, 3u);
}

TEST(http2_every_split_of_each_direction_gives_the_same_streams) {
  // Each direction cut in two at every byte (the client's request always before its answer,
  // as a capture delivers them).
  Exchange x;
  int before = check::failures_in_case();
  for (int dir = 0; dir < 2; ++dir) {
    const std::string& cut_side = dir == 0 ? x.client : x.server;
    for (size_t cut = 1; cut < cut_side.size(); ++cut) {
      Seen seen;
      Http2Parser p(seen);
      p.start(0, 0);
      p.start(1, 0);
      if (dir == 0) {
        p.feed(0, 0, u8(x.client), cut, 1);
        p.feed(0, cut, u8(x.client) + cut, x.client.size() - cut, 2);
        p.feed(1, 0, u8(x.server), x.server.size(), 3);
      } else {
        p.feed(0, 0, u8(x.client), x.client.size(), 1);
        p.feed(1, 0, u8(x.server), cut, 2);
        p.feed(1, cut, u8(x.server) + cut, x.server.size() - cut, 3);
      }
      check_exchange(x, seen, p);
      if (check::failures_in_case() != before) {
        std::fprintf(stderr, "  (direction %d cut at %zu)\n", dir, cut);
        return;
      }
    }
  }
}

TEST(http2_continuation_padding_and_priority) {
  Encoder c;
  const std::string block = c.block({{":method", "GET"}, {":scheme", "https"}, {":path", "/long"}, {":authority", "h"},
                                     {"x-filler", std::string(300, 'z')}});
  // HEADERS with PADDED and PRIORITY carrying the first 10 bytes; two CONTINUATIONs the rest.
  std::string hp = std::string("\x03", 1) + std::string("\x80\x00\x00\x00\x10", 5) + block.substr(0, 10) + std::string(3, '\0');
  std::string client = kPreface + frame(1, 0x8 | 0x20 | 0x1, 1, hp) + frame(9, 0, 1, block.substr(10, 100)) +
                       frame(9, 0x4, 1, block.substr(110));
  Seen seen;
  Http2Parser p(seen);
  p.start(0, 0);
  p.start(1, 0);
  p.feed(0, 0, u8(client), client.size(), 1);
  CHECK_EQ(seen.requests.size(), 1u);
  if (seen.requests.empty()) return;
  CHECK_EQ(seen.requests[0].path, "/long");
  CHECK_EQ(seen.requests[0].method, "GET");
  CHECK_EQ(seen.requests[0].request_bytes, client.size() - kPreface.size());
  CHECK_EQ(seen.requests[0].request_start, kPreface.size());
  // A frame of another type inside a header block is a protocol error: the direction stops.
  Seen seen2;
  Http2Parser q(seen2);
  q.start(0, 0);
  std::string broken = kPreface + frame(1, 0, 1, block.substr(0, 10)) + frame(0, 0, 1, "x") + frame(9, 4, 1, block.substr(10));
  q.feed(0, 0, u8(broken), broken.size(), 1);
  CHECK(q.stopped(0));
  CHECK_EQ(q.stats().errors, 1u);
  CHECK_EQ(seen2.requests.size(), 0u);
  // A CONTINUATION that continues nothing is one too.
  Seen seen3;
  Http2Parser r(seen3);
  r.start(0, 0);
  const std::string stray = kPreface + frame(9, 4, 1, block);
  r.feed(0, 0, u8(stray), stray.size(), 1);
  CHECK(r.stopped(0));
  CHECK_EQ(seen3.requests.size(), 0u);
}

TEST(http2_dynamic_table_size_follows_settings) {
  // The client allows the server a 16 KiB table; the server's encoder uses it for headers
  // bigger than the default 4 KiB. An inflater left at 4096 rejects the size update.
  Encoder s(16384);
  s.table_size(16384);
  const std::string big(3000, 'v');
  std::string client = kPreface + settings({{1, 16384}});
  Encoder c;
  client += c.headers(1, {{":method", "GET"}, {":path", "/"}, {":authority", "h"}, {":scheme", "http"}}, true);
  client += c.headers(3, {{":method", "GET"}, {":path", "/2"}, {":authority", "h"}, {":scheme", "http"}}, true);
  std::string server = settings({}) + settings({}, true);
  server += s.headers(1, {{":status", "200"}, {"x-a", big}, {"x-b", big}}, true);
  server += s.headers(3, {{":status", "201"}, {"x-a", big}, {"x-b", big}}, true);
  Seen seen;
  Http2Parser p(seen);
  p.start(0, 0);
  p.start(1, 0);
  p.feed(0, 0, u8(client), client.size(), 1);
  p.feed(1, 0, u8(server), server.size(), 2);
  CHECK_EQ(p.stats().errors, 0u);
  CHECK_EQ(seen.done.size(), 2u);
  const Http2Stream* b = seen.stream(3);
  CHECK(b != nullptr && b->status == 201);
  // The same traffic without the client's SETTINGS: the server's table size update is refused.
  Seen seen2;
  Http2Parser q(seen2);
  q.start(0, 0);
  q.start(1, 0);
  const std::string no_settings = kPreface + client.substr(kPreface.size() + 15);
  q.feed(0, 0, u8(no_settings), no_settings.size(), 1);
  q.feed(1, 0, u8(server), server.size(), 2);
  CHECK(q.stopped(1));
  CHECK_EQ(q.stats().errors, 1u);
}

TEST(http2_h2c_upgrade_stream_one_is_the_http1_request) {
  Encoder s, c;
  const std::string http1 = "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
  const std::string switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  const std::string client = http1 + kPreface + settings({}) + c.headers(3, {{":method", "GET"}, {":path", "/next"}, {":authority", "h"}, {":scheme", "http"}}, true);
  const std::string server = switching + settings({}) + s.headers(1, {{":status", "200"}}, false) + frame(0, 1, 1, "body") +
                             s.headers(3, {{":status", "500"}}, true);
  Seen seen;
  Http2Parser p(seen);
  p.upgraded_request("GET", "/up", "h", "", http1.size(), 5, 5);
  p.start(0, http1.size());
  p.start(1, switching.size());
  p.feed(0, 0, u8(client), client.size(), 6);  // bytes before start() are ignored
  p.feed(1, 0, u8(server), server.size(), 7);
  CHECK_EQ(seen.done.size(), 2u);
  const Http2Stream* one = seen.stream(1);
  const Http2Stream* three = seen.stream(3);
  CHECK(one != nullptr && three != nullptr);
  if (one == nullptr || three == nullptr) return;
  CHECK(one->upgraded);
  CHECK_EQ(one->path, "/up");
  CHECK_EQ(one->status, 200);
  CHECK_EQ(one->response_data, 4u);
  CHECK_EQ(one->response_start, switching.size() + 9);
  CHECK_EQ(three->path, "/next");
  CHECK_EQ(three->status, 500);
  CHECK_EQ(p.stats().errors, 0u);
}

TEST(http2_reset_close_and_stream_cap) {
  Encoder c;
  std::string client = kPreface;
  for (uint32_t id : {1u, 3u, 5u}) {
    client += c.headers(id, {{":method", "GET"}, {":path", "/" + std::to_string(id)}, {":authority", "h"}, {":scheme", "http"}}, true);
  }
  client += frame(3, 0, 1, std::string("\x00\x00\x00\x08", 4));  // RST_STREAM(CANCEL) on 1
  Seen seen;
  Http2Parser p(seen, 2);
  p.start(0, 0);
  p.start(1, 0);
  p.feed(0, 0, u8(client), client.size(), 1);
  CHECK_EQ(p.stats().streams_dropped, 1u);
  CHECK_EQ(seen.requests.size(), 2u);
  CHECK_EQ(seen.done.size(), 1u);
  if (seen.done.size() != 1) return;
  CHECK(seen.done[0].reset);
  CHECK_EQ(seen.done[0].id, 1u);
  p.close();
  CHECK_EQ(seen.done.size(), 2u);
  CHECK_EQ(seen.done[1].id, 3u);
  CHECK(!seen.complete[1]);
  CHECK(seen.done[1].request_ended && !seen.done[1].response_seen);
}

TEST(http2_broken_input_stops_without_crashing) {
  Seen seen;
  Http2Parser p(seen);
  p.start(0, 0);
  p.start(1, 0);
  const std::string not_preface = "GET / HTTP/1.1\r\n\r\n";
  p.feed(0, 0, u8(not_preface), not_preface.size(), 1);
  CHECK(p.stopped(0));
  // An HPACK index past every table.
  const std::string bad = frame(1, 0x5, 1, std::string("\xff\xff\xff\x0f", 4));
  p.feed(1, 0, u8(bad), bad.size(), 1);
  CHECK(p.stopped(1));
  CHECK_EQ(p.stats().errors, 2u);
  p.gap(0);
  CHECK_EQ(p.stats().gaps, 0u);  // already stopped: counted once
}

TEST(http2_midstream_heuristic) {
  Encoder s;
  const std::string frames = s.headers(7, {{":status", "200"}}, false) + frame(0, 0, 7, "data") + frame(8, 0, 0, std::string("\x00\x00\x01\x00", 4));
  CHECK(Http2Parser::looks_like_frames(u8(frames), frames.size()));
  CHECK(Http2Parser::looks_like_frames(u8(frames), 12));  // a partial second frame is fine
  const std::string http1 = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(!Http2Parser::looks_like_frames(u8(http1), http1.size()));
  const std::string tls = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  CHECK(!Http2Parser::looks_like_frames(u8(tls), tls.size()));
  CHECK(!Http2Parser::looks_like_frames(u8(kPreface), kPreface.size()));
  CHECK(Http2Parser::starts_with_preface(u8(kPreface), 10));
  CHECK(!Http2Parser::starts_with_preface(u8(http1), http1.size()));
}

namespace {
std::string fields(const Http1Content& c) {
  std::string s;
  for (const Http1HeaderSpan& h : c.headers) {
    s.append(c.name(h));
    s += '=';
    s.append(c.value(h));
    s += ';';
  }
  return s;
}
}  // namespace

TEST(http2_content_capture_headers_trailers_and_data_at_every_split) {
  Exchange x;
  for (size_t cut = 1; cut < x.client.size(); cut += 5) {
    Seen seen;
    Http2Parser p(seen);
    p.capture_content(true, 4, 1 << 20);  // request bodies kept up to 4 bytes
    p.start(0, 0);
    p.start(1, 0);
    p.feed(0, 0, u8(x.client), cut, 10);
    p.feed(0, cut, u8(x.client) + cut, x.client.size() - cut, 11);
    const size_t scut = cut % x.server.size();
    p.feed(1, 0, u8(x.server), scut, 20);
    p.feed(1, scut, u8(x.server) + scut, x.server.size() - scut, 21);
    const Http2Stream* g = seen.stream(3);
    const Http2Stream* b = seen.stream(5);
    CHECK(g != nullptr && b != nullptr);
    if (g == nullptr || b == nullptr) return;
    CHECK_EQ(fields(g->content[0]), ":method=POST;:scheme=http;:path=/pkg.Svc/Call;:authority=svc:8080;content-type=application/grpc;te=trailers;");
    CHECK_EQ(g->content[0].body, "abcd");  // padding left out, capped at 4 of 6
    CHECK(g->content[0].body_truncated);
    CHECK_EQ(fields(g->content[1]), ":status=200;content-type=application/grpc;");
    CHECK_EQ(g->content[1].body, "12345");
    CHECK_EQ(fields(g->trailers[1]), "grpc-status=14;grpc-message=unavailable;");
    CHECK(g->trailers[0].headers.empty());
    CHECK_EQ(fields(b->content[0]), ":method=GET;:scheme=http;:path=/a/b?x=1;:authority=svc:8080;user-agent=t;");  // dynamic table
    CHECK_EQ(b->content[1].body, "hello");
    if (fields(g->content[0]).empty()) return;
  }
}

TEST(http2_content_capture_skips_interim_responses_and_is_off_by_default) {
  Encoder c, s;
  const std::string client = kPreface + c.headers(1, {{":method", "POST"}, {":path", "/u"}, {"expect", "100-continue"}}, false) +
                             frame(0, 1, 1, "body");
  const std::string server = s.headers(1, {{":status", "100"}}, false) + s.headers(1, {{":status", "201"}, {"x", "y"}}, false) +
                             frame(0, 0, 1, "ok") + s.headers(1, {{"x-trailer", "t"}}, true);
  for (bool on : {true, false}) {
    Seen seen;
    Http2Parser p(seen);
    p.capture_content(on, 100, 100);
    p.start(0, 0);
    p.start(1, 0);
    p.feed(0, 0, u8(client), client.size(), 1);
    p.feed(1, 0, u8(server), server.size(), 2);
    const Http2Stream* st = seen.stream(1);
    CHECK(st != nullptr);
    if (st == nullptr) return;
    CHECK_EQ(st->status, 201);
    CHECK_EQ(fields(st->content[1]), on ? ":status=201;x=y;" : "");
    CHECK_EQ(fields(st->trailers[1]), on ? "x-trailer=t;" : "");
    CHECK_EQ(st->content[0].body, on ? "body" : "");
    CHECK_EQ(st->content[1].body, on ? "ok" : "");
  }
}
