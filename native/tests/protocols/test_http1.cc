// Http1Parser on llhttp: fields, byte offsets and times of every message, bodies that end by
// length, chunking, the stream's close or not at all (HEAD, 1xx, 204, 304), pipelining split at
// every byte, upgrades, gaps and garbage.
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "protocols/http1.h"

using namespace podspan;

namespace podspan {
std::ostream& operator<<(std::ostream& os, Http1Parser::State s) { return os << "state " << int(s); }
}  // namespace podspan

namespace {

struct Recorder : Http1Parser::Events {
  std::vector<Http1Message> messages;
  std::deque<std::string> request_methods;  // for a response parser: what each response answers
  Http1Parser::Body on_head(const Http1Message& m) override {
    if (m.request || request_methods.empty()) return Http1Parser::Body::kAsHeadersSay;
    const std::string method = request_methods.front();
    if (m.status >= 200) request_methods.pop_front();
    if (method == "HEAD") return Http1Parser::Body::kNone;
    if (method == "CONNECT" && m.status / 100 == 2) return Http1Parser::Body::kSwitch;
    return Http1Parser::Body::kAsHeadersSay;
  }
  void on_message(const Http1Message& m) override { messages.push_back(m); }
};

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Feeds `bytes` as chunks cut at `cuts` (ascending offsets), chunk i captured at time 100 + i.
void feed_cut(Http1Parser& p, const std::string& bytes, const std::vector<size_t>& cuts, uint64_t base = 0) {
  size_t at = 0;
  uint64_t ts = 100;
  for (size_t c : cuts) {
    p.feed(base + at, u8(bytes) + at, c - at, ts++);
    at = c;
  }
  p.feed(base + at, u8(bytes) + at, bytes.size() - at, ts);
}

const std::string kPipelined =
    "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n"
    "POST /api/users HTTP/1.1\r\nHOST: api\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n"
    "PUT /c HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";

}  // namespace

TEST(http1_request_fields_and_offsets) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string req = "GET /a/b?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nExpect: 100-continue\r\n\r\n";
  p.feed(1000, u8(req), req.size(), 7);
  CHECK_EQ(r.messages.size(), 1u);
  const Http1Message& m = r.messages[0];
  CHECK(m.request);
  CHECK_EQ(std::string(m.method), "GET");
  CHECK_EQ(m.target, "/a/b?q=1");
  CHECK_EQ(m.host, "example.com");
  CHECK_EQ(m.expect, "100-continue");
  CHECK_EQ(m.start, 1000u);
  CHECK_EQ(m.head_end, 1000u + req.size());
  CHECK_EQ(m.end, 1000u + req.size());
  CHECK_EQ(m.first_ts, 7u);
  CHECK_EQ(m.last_ts, 7u);
  CHECK_EQ(int(m.version_minor), 1);
  CHECK(m.keep_alive);
  CHECK_EQ(p.state(), Http1Parser::State::kParsing);
  CHECK(!p.in_message());
}

TEST(http1_header_names_match_in_any_case_and_only_whole) {
  Recorder r;
  Http1Parser p(true, r);
  // Names of the tracked lengths that are not tracked (Keep-Alive, User-Agent, Hose), tracked
  // names in odd cases, a name longer than any tracked one, and a repeated Host (the first kept).
  const std::string req =
      "GET / HTTP/1.1\r\nKeep-Alive: 5\r\nUser-Agent: ua\r\nHose: no\r\nhOsT: h1\r\nHOST: h2\r\n"
      "CONTENT-type: text/x\r\ncOnNeCtIoN: close\r\nUPGRADE: websocket\r\nExpecT: 100-continue\r\n"
      "X-Content-Type-Options: nosniff\r\n\r\n";
  feed_cut(p, req, {5, 20, 21, 60, 61, 62, 100, 150});
  CHECK_EQ(r.messages.size(), 1u);
  const Http1Message& m = r.messages[0];
  CHECK_EQ(m.host, "h1");
  CHECK_EQ(m.content_type, "text/x");
  CHECK_EQ(m.connection, "close");
  CHECK_EQ(m.upgrade, "websocket");
  CHECK_EQ(m.expect, "100-continue");
}

TEST(http1_pipelined_requests_split_at_every_byte) {
  const size_t first_end = kPipelined.find("POST");
  const size_t second_end = kPipelined.find("PUT");
  const size_t second_head_end = kPipelined.find("{\"a\"");
  const size_t third_head_end = kPipelined.find("3\r\nabc");
  int failures_before = check::failures_in_case();
  for (size_t cut = 0; cut <= kPipelined.size(); ++cut) {
    for (size_t cut2 : {cut, std::min(cut + 1, kPipelined.size()), std::min(cut + 7, kPipelined.size())}) {
      Recorder r;
      Http1Parser p(true, r);
      std::vector<size_t> cuts;
      if (cut > 0) cuts.push_back(cut);
      if (cut2 > cut) cuts.push_back(cut2);
      feed_cut(p, kPipelined, cuts);
      CHECK_EQ(r.messages.size(), 3u);
      if (r.messages.size() != 3) break;
      const Http1Message &a = r.messages[0], &b = r.messages[1], &c = r.messages[2];
      CHECK_EQ(a.start, 0u);
      CHECK_EQ(a.end, first_end);
      CHECK_EQ(a.target, "/a?x=1");
      CHECK_EQ(a.host, "example.com");
      CHECK_EQ(a.connection, "keep-alive");
      CHECK_EQ(std::string(b.method), "POST");
      CHECK_EQ(b.start, first_end);
      CHECK_EQ(b.head_end, second_head_end);
      CHECK_EQ(b.end, second_end);
      CHECK_EQ(b.host, "api");
      CHECK_EQ(b.content_type, "application/json");
      CHECK_EQ(b.content_length, 11);
      CHECK_EQ(b.body_bytes, 11u);
      CHECK_EQ(std::string(c.method), "PUT");
      CHECK_EQ(c.start, second_end);
      CHECK_EQ(c.head_end, third_head_end);
      CHECK_EQ(c.end, kPipelined.size());
      CHECK(c.chunked);
      CHECK_EQ(c.body_bytes, 5u);
      // Times: the chunk holding the first and the last byte (chunk i at 100 + i).
      auto ts_of = [&](size_t off) -> uint64_t {
        uint64_t ts = 100;
        for (size_t c : cuts) ts += off >= c ? 1 : 0;
        return ts;
      };
      CHECK_EQ(a.first_ts, ts_of(0));
      CHECK_EQ(b.first_ts, ts_of(b.start));
      CHECK_EQ(b.last_ts, ts_of(b.end - 1));
      CHECK_EQ(c.last_ts, ts_of(c.end - 1));
      if (check::failures_in_case() != failures_before) {
        std::fprintf(stderr, "  (cut at %zu and %zu)\n", cut, cut2);
        return;
      }
    }
  }
  // One byte at a time.
  Recorder r;
  Http1Parser p(true, r);
  for (size_t i = 0; i < kPipelined.size(); ++i) p.feed(i, u8(kPipelined) + i, 1, i);
  CHECK_EQ(r.messages.size(), 3u);
  CHECK_EQ(r.messages[2].start, second_end);
  CHECK_EQ(r.messages[2].first_ts, second_end);
  CHECK_EQ(r.messages[2].last_ts, kPipelined.size() - 1);
}

TEST(http1_chunked_response_with_trailer) {
  Recorder r;
  Http1Parser p(false, r);
  const std::string resp =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
      "a\r\n0123456789\r\n1\r\nx\r\n0\r\nX-Trailer: 1\r\n\r\n";
  p.feed(0, u8(resp), resp.size(), 1);
  CHECK_EQ(r.messages.size(), 1u);
  CHECK_EQ(r.messages[0].status, 200);
  CHECK(r.messages[0].chunked);
  CHECK_EQ(r.messages[0].body_bytes, 11u);
  CHECK_EQ(r.messages[0].end, resp.size());
  CHECK_EQ(r.messages[0].content_type, "text/plain");
}

TEST(http1_head_204_304_responses_have_no_body) {
  Recorder r;
  r.request_methods = {"HEAD", "GET", "GET", "GET"};
  Http1Parser p(false, r);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  const std::string no_content = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string not_modified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\nETag: x\r\n\r\n";
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const std::string all = head + no_content + not_modified + ok;
  p.feed(0, u8(all), all.size(), 1);
  CHECK_EQ(r.messages.size(), 4u);
  if (r.messages.size() != 4) return;
  CHECK_EQ(r.messages[0].end, head.size());
  CHECK_EQ(r.messages[0].body_bytes, 0u);
  CHECK_EQ(r.messages[0].content_length, 1000);
  CHECK_EQ(r.messages[1].status, 204);
  CHECK_EQ(r.messages[1].end, head.size() + no_content.size());
  CHECK_EQ(r.messages[2].status, 304);
  CHECK_EQ(r.messages[2].end, head.size() + no_content.size() + not_modified.size());
  CHECK_EQ(r.messages[3].status, 200);
  CHECK_EQ(r.messages[3].body_bytes, 2u);
  CHECK_EQ(r.messages[3].end, all.size());
}

TEST(http1_100_continue_then_final_response) {
  Recorder r;
  r.request_methods = {"POST"};
  Http1Parser p(false, r);
  const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string fin = "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew";
  p.feed(0, u8(cont), cont.size(), 1);
  p.feed(cont.size(), u8(fin), fin.size(), 2);
  CHECK_EQ(r.messages.size(), 2u);
  if (r.messages.size() != 2) return;
  CHECK_EQ(r.messages[0].status, 100);
  CHECK_EQ(r.messages[0].end, cont.size());
  CHECK_EQ(r.messages[1].status, 201);
  CHECK_EQ(r.messages[1].start, cont.size());
  CHECK_EQ(r.messages[1].first_ts, 2u);
  CHECK_EQ(r.messages[1].body_bytes, 3u);
  CHECK(r.request_methods.empty());
}

TEST(http1_body_read_until_close) {
  Recorder r;
  Http1Parser p(false, r);
  const std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>";
  p.feed(0, u8(resp), resp.size(), 1);
  p.feed(resp.size(), u8("</html>"), 7, 2);
  CHECK_EQ(r.messages.size(), 0u);
  CHECK(p.in_message());
  p.close(9);
  CHECK_EQ(r.messages.size(), 1u);
  if (r.messages.empty()) return;
  CHECK(r.messages[0].ended_by_close);
  CHECK_EQ(r.messages[0].body_bytes, 13u);
  CHECK_EQ(r.messages[0].end, resp.size() + 7);
  CHECK_EQ(r.messages[0].last_ts, 2u);
  CHECK(!r.messages[0].keep_alive);
  CHECK_EQ(p.state(), Http1Parser::State::kClosed);
}

TEST(http1_close_mid_message_reports_nothing) {
  Recorder r;
  Http1Parser p(false, r);
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  p.feed(0, u8(resp), resp.size(), 1);
  p.close(2);
  CHECK_EQ(r.messages.size(), 0u);
  CHECK(p.in_message());
  CHECK_EQ(p.current().status, 200);
  CHECK_EQ(p.current().body_bytes, 3u);
}

TEST(http1_101_switches_protocols_and_holds_the_rest) {
  Recorder r;
  r.request_methods = {"GET"};
  Http1Parser p(false, r);
  const std::string resp = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  const std::string after = std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  const std::string all = resp + after;
  p.feed(50, u8(all), all.size(), 3);
  p.feed(50 + all.size(), u8("xy"), 2, 4);
  CHECK_EQ(r.messages.size(), 1u);
  CHECK_EQ(r.messages[0].status, 101);
  CHECK_EQ(r.messages[0].upgrade, "h2c");
  CHECK_EQ(p.state(), Http1Parser::State::kUpgraded);
  CHECK_EQ(p.upgrade_offset(), 50u + resp.size());
  CHECK_EQ(p.held(), after + "xy");
  CHECK_EQ(p.held_ts(), 3u);
}

namespace {
// `bytes` parsed with every callback and with host_and_upgrade_only, cut at every byte: the same
// messages but for the named fields a lean parser skips. `check` sees both at each cut.
void full_and_lean(bool requests, const std::string& bytes, size_t messages,
                   const std::function<void(const std::vector<Http1Message>&, const std::vector<Http1Message>&)>& check) {
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    Recorder full, lean;
    Http1Parser a(requests, full), b(requests, lean);
    b.host_and_upgrade_only(true);
    feed_cut(a, bytes, cut ? std::vector<size_t>{cut} : std::vector<size_t>{});
    feed_cut(b, bytes, cut ? std::vector<size_t>{cut} : std::vector<size_t>{});
    CHECK_EQ(full.messages.size(), messages);
    CHECK_EQ(lean.messages.size(), messages);
    if (full.messages.size() != messages || lean.messages.size() != messages) return;
    for (size_t i = 0; i < messages; ++i) {
      const Http1Message &x = full.messages[i], &y = lean.messages[i];
      CHECK_EQ(x.start, y.start);
      CHECK_EQ(x.head_end, y.head_end);
      CHECK_EQ(x.end, y.end);
      CHECK_EQ(x.first_ts, y.first_ts);
      CHECK_EQ(x.last_ts, y.last_ts);
      CHECK_EQ(x.status, y.status);
      CHECK_EQ(x.target, y.target);
      CHECK_EQ(x.host, y.host);
      CHECK_EQ(x.body_bytes, y.body_bytes);
      CHECK_EQ(x.chunked, y.chunked);
      CHECK_EQ(x.keep_alive, y.keep_alive);
    }
    check(full.messages, lean.messages);
  }
}
}  // namespace

TEST(http1_responses_without_header_callbacks_keep_offsets_lengths_and_a_101s_upgrade) {
  // Only the lean parser leaves a response's headers unread, and a 101 keeps its Upgrade either way.
  const std::string three =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nUpgrade: no\r\n\r\nhello"
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nContent-Type: " + std::string(300, 'v') + "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "HTTP/1.1 200\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
  full_and_lean(false, three, 3, [](const std::vector<Http1Message>& full, const std::vector<Http1Message>& lean) {
    for (const Http1Message& y : lean) CHECK(y.content_type.empty() && y.upgrade.empty() && y.connection.empty() && !y.truncated);
    CHECK_EQ(full[0].content_type, "text/plain");
    CHECK(full[1].truncated);  // its Content-Type past kMaxHeader: only with callbacks
    CHECK(!full[2].keep_alive);
  });
  // A 101 after a skipped response: its Upgrade is read (the switch to HTTP/2 needs it).
  Recorder r;
  r.request_methods = {"GET", "GET"};
  Http1Parser p(false, r);
  p.host_and_upgrade_only(true);
  const std::string resp = "HTTP/1.1 204 No Content\r\nUpgrade: x\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  p.feed(0, u8(resp), resp.size(), 1);
  CHECK_EQ(r.messages.size(), 2u);
  if (r.messages.size() == 2) {
    CHECK_EQ(r.messages[0].upgrade, "");
    CHECK_EQ(r.messages[1].upgrade, "h2c");
  }
  CHECK_EQ(p.state(), Http1Parser::State::kUpgraded);
}

TEST(http1_requests_after_their_host_go_without_header_callbacks) {
  // The first Host is read wherever it comes; the headers after it are not.
  const std::string three =
      "GET /a HTTP/1.1\r\nHost: first\r\nHost: second\r\nContent-Type: x/y\r\nContent-Length: 3\r\n\r\nabc"
      "POST /b HTTP/1.1\r\nUser-Agent: ua\r\nExpect: 100-continue\r\nhost: late\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
      "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  full_and_lean(true, three, 3, [](const std::vector<Http1Message>&, const std::vector<Http1Message>& lean) {
    CHECK_EQ(lean[0].host, "first");
    CHECK_EQ(lean[0].content_type, "");  // after the Host: not read
    CHECK_EQ(lean[1].host, "late");
    CHECK_EQ(lean[1].expect, "100-continue");  // before it: read as ever
    CHECK(!lean[2].keep_alive);
  });
}

TEST(http1_upgrade_request_refused_goes_on_as_http1) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string up = "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
  const std::string next = "GET /two HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string all = up + next;
  p.feed(0, u8(all), all.size(), 1);
  CHECK_EQ(r.messages.size(), 1u);
  CHECK_EQ(r.messages[0].upgrade, "h2c");
  CHECK_EQ(p.state(), Http1Parser::State::kUpgraded);
  CHECK_EQ(p.upgrade_offset(), up.size());
  p.resume_after_upgrade();
  CHECK_EQ(p.state(), Http1Parser::State::kParsing);
  CHECK_EQ(r.messages.size(), 2u);
  if (r.messages.size() != 2) return;
  CHECK_EQ(r.messages[1].target, "/two");
  CHECK_EQ(r.messages[1].start, up.size());
  CHECK_EQ(r.messages[1].end, all.size());
}

TEST(http1_connect_tunnel_stops_parsing) {
  Recorder r;
  r.request_methods = {"CONNECT"};
  Http1Parser p(false, r);
  const std::string resp = "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01 tls bytes";
  p.feed(0, u8(resp), resp.size(), 1);
  CHECK_EQ(r.messages.size(), 1u);
  CHECK_EQ(p.state(), Http1Parser::State::kUpgraded);
  CHECK_EQ(p.upgrade_offset(), resp.find('\x16'));
}

TEST(http1_gap_stops_the_direction) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string a = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HT";
  p.feed(0, u8(a), a.size(), 1);
  p.gap();
  const std::string b = "TP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
  p.feed(a.size() + 100, u8(b), b.size(), 2);
  CHECK_EQ(r.messages.size(), 1u);
  CHECK_EQ(p.state(), Http1Parser::State::kGap);
  CHECK(p.in_message());
}

TEST(http1_garbage_is_an_error_counted_not_a_crash) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string junk = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  p.feed(0, u8(junk), junk.size(), 1);
  CHECK_EQ(p.state(), Http1Parser::State::kError);
  CHECK_EQ(p.errors(), 1u);
  CHECK(std::string(p.error()).size() > 0);
  p.feed(junk.size(), u8(junk), junk.size(), 2);
  CHECK_EQ(p.errors(), 1u);
  CHECK_EQ(r.messages.size(), 0u);
}

TEST(http1_long_fields_are_capped) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string path(10000, 'a');
  const std::string host(1000, 'h');
  const std::string req = "GET /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nX-A-Very-Long-Header-Name-Indeed: 1\r\n\r\n";
  p.feed(0, u8(req), req.size(), 1);
  CHECK_EQ(r.messages.size(), 1u);
  if (r.messages.empty()) return;
  CHECK_EQ(r.messages[0].target.size(), Http1Parser::kMaxTarget);
  CHECK_EQ(r.messages[0].host.size(), Http1Parser::kMaxHeader);
  CHECK(r.messages[0].truncated);
  CHECK_EQ(r.messages[0].end, req.size());
}

TEST(http1_reset_reuses_the_parser_for_a_new_stream) {
  Recorder r;
  Http1Parser p(true, r);
  const std::string junk = "not http at all\r\n\r\n";
  p.feed(0, u8(junk), junk.size(), 1);
  CHECK_EQ(p.state(), Http1Parser::State::kError);
  p.reset(false);
  const std::string resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  p.feed(0, u8(resp), resp.size(), 2);
  CHECK_EQ(r.messages.size(), 1u);
  if (r.messages.empty()) return;
  CHECK_EQ(r.messages[0].status, 404);
  CHECK(!r.messages[0].request);
}

namespace {
std::string headers_of(const Http1Message& m) {
  std::string s;
  for (const Http1HeaderSpan& h : m.content.headers) {
    s.append(m.content.name(h));
    s += '=';
    s.append(m.content.value(h));
    s += ';';
  }
  return s;
}
}  // namespace

TEST(http1_content_capture_off_keeps_nothing) {
  Recorder r;
  Http1Parser p(true, r);
  feed_cut(p, kPipelined, {});
  CHECK_EQ(r.messages.size(), 3u);
  for (const Http1Message& m : r.messages) {
    CHECK(m.content.headers.empty());
    CHECK(m.content.body.empty());
  }
}

TEST(http1_content_capture_keeps_headers_as_sent_and_the_decoded_body_at_every_split) {
  for (size_t cut = 1; cut < kPipelined.size(); ++cut) {
    for (size_t cut2 = cut + 1; cut2 < kPipelined.size(); cut2 += 7) {
      Recorder r;
      Http1Parser p(true, r);
      p.capture_content(true, 1 << 20);
      feed_cut(p, kPipelined, {cut, cut2});
      CHECK_EQ(r.messages.size(), 3u);
      if (r.messages.size() != 3) return;
      CHECK_EQ(headers_of(r.messages[0]), "Host=example.com;Connection=keep-alive;");
      CHECK_EQ(headers_of(r.messages[1]), "HOST=api;Content-Type=application/json;Content-Length=11;");
      CHECK_EQ(r.messages[1].content.body, "{\"a\":\"bc\"}\n");
      CHECK_EQ(headers_of(r.messages[2]), "Host=c;Transfer-Encoding=chunked;");
      CHECK_EQ(r.messages[2].content.body, "abcde");  // chunk framing and extensions removed
      CHECK(r.messages[0].content.body.empty());
      CHECK(!r.messages[2].content.body_truncated);
    }
  }
}

TEST(http1_content_capture_bounds_the_body_and_counts_it_all) {
  Recorder r;
  Http1Parser p(false, r);
  p.capture_content(true, 4);
  const std::string resp = "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 10\r\n\r\n0123456789";
  feed_cut(p, resp, {30, 45});
  CHECK_EQ(r.messages.size(), 1u);
  const Http1Message& m = r.messages[0];
  CHECK_EQ(m.content.body, "0123");
  CHECK(m.content.body_truncated);
  CHECK_EQ(m.body_bytes, 10u);
  CHECK_EQ(headers_of(m), "X-Empty=;Content-Length=10;");
}

TEST(http1_content_capture_caps_the_header_bytes) {
  Recorder r;
  Http1Parser p(true, r);
  p.capture_content(true, 16);
  std::string req = "GET / HTTP/1.1\r\nA: 1\r\n";
  for (int i = 0; i < 1000; ++i) req += "X-Long-Header-" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
  req += "\r\n";
  feed_cut(p, req, {});
  CHECK_EQ(r.messages.size(), 1u);
  const Http1Message& m = r.messages[0];
  CHECK(m.content.headers_truncated);
  CHECK(m.content.header_bytes.size() <= Http1Parser::kMaxHeaderBytes);
  CHECK_EQ(std::string(m.content.name(m.content.headers[0])), "A");
  for (const Http1HeaderSpan& h : m.content.headers) CHECK_EQ(m.content.value(h).size() == 100 || m.content.name(h) == "A", true);
}
