// ResponseReader: the framing of the candidate's answers on one connection (status, headers,
// body by Content-Length, chunked, or until close; none after HEAD, 1xx, 204, 304), the body kept
// up to the cap with its whole length counted, fed whole and cut at every byte.
#include <string>

#include "check.h"
#include "replay/response_reader.h"

using namespace podspan;

namespace {

using Result = ResponseReader::Result;

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::string header(const ResponseReader::Answer& a, const std::string& name) {
  for (const Http1HeaderSpan& h : a.content.headers)
    if (a.content.name(h) == name) return std::string(a.content.value(h));
  return "<none>";
}

// Feeds `bytes` in pieces of `step` bytes (0: whole); the result of the last piece.
Result feed_steps(ResponseReader& r, const std::string& bytes, size_t step) {
  if (step == 0) return r.feed(u8(bytes), bytes.size());
  Result last = Result::kNeedMore;
  for (size_t at = 0; at < bytes.size(); at += step) {
    last = r.feed(u8(bytes) + at, std::min(step, bytes.size() - at));
    if (last == Result::kError) return last;
  }
  return last;
}

}  // namespace

namespace podspan {
std::ostream& operator<<(std::ostream& os, ResponseReader::Result r) { return os << "result " << int(r); }
}  // namespace podspan

TEST(response_reader_content_length_and_chunked_at_every_cut) {
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  const std::string sized = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
  for (size_t step = 0; step <= 9; ++step) {
    ResponseReader r(1024);
    r.expect(false);
    CHECK_EQ(feed_steps(r, chunked, step), Result::kComplete);
    CHECK_EQ(r.answer().status, 200);
    CHECK_EQ(r.answer().content.body, std::string("hello, world"));
    CHECK_EQ(r.answer().body_bytes, 12u);
    CHECK_EQ(header(r.answer(), "X-A"), std::string("1"));
    r.expect(false);
    CHECK_EQ(feed_steps(r, sized, step), Result::kComplete);
    CHECK_EQ(r.answer().status, 404);
    CHECK_EQ(r.answer().content.body, std::string("nope"));
    CHECK(r.answer().keep_alive);
  }
}

TEST(response_reader_body_over_the_cap_is_cut_and_counted) {
  ResponseReader r(10);
  r.expect(false);
  const std::string body(5000, 'x');
  CHECK_EQ(feed_steps(r, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body, 333), Result::kComplete);
  CHECK_EQ(r.answer().content.body.size(), 10u);
  CHECK(r.answer().content.body_truncated);
  CHECK_EQ(r.answer().body_bytes, 5000u);
}

TEST(response_reader_close_delimited_body_ends_at_finish) {
  ResponseReader r(1024);
  r.expect(false);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", 0), Result::kNeedMore);
  CHECK_EQ(feed_steps(r, "the end", 0), Result::kNeedMore);
  CHECK_EQ(r.finish(), Result::kComplete);
  CHECK_EQ(r.answer().content.body, std::string("until the end"));
  CHECK(!r.answer().keep_alive);
}

TEST(response_reader_close_before_the_end_is_not_an_answer) {
  ResponseReader r(1024);
  r.expect(false);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0), Result::kNeedMore);
  CHECK(r.finish() != Result::kComplete);
  ResponseReader none(1024);
  none.expect(false);
  CHECK(none.finish() != Result::kComplete);
}

TEST(response_reader_no_body_after_head_1xx_204_304) {
  ResponseReader r(1024);
  // One connection: HEAD's answer announcing 1000 bytes, a 304 and a 204 announcing 5, then a
  // 100 and a 103 before a 201 with 4 bytes: each answer ends at its head.
  r.expect(true);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0), Result::kComplete);
  CHECK_EQ(r.answer().body_bytes, 0u);
  r.expect(false);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0), Result::kComplete);
  CHECK_EQ(r.answer().status, 304);
  r.expect(false);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 1), Result::kComplete);
  CHECK_EQ(r.answer().status, 204);
  r.expect(false);
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";
  CHECK_EQ(feed_steps(r, interim, 0), Result::kNeedMore);
  CHECK_EQ(feed_steps(r, "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone", 2), Result::kComplete);
  CHECK_EQ(r.answer().status, 201);
  CHECK_EQ(r.answer().content.body, std::string("done"));
  CHECK_EQ(header(r.answer(), "Link"), std::string("<none>"));
}

TEST(response_reader_errors_garbage_switch_and_unasked_answers) {
  ResponseReader garbage(1024);
  garbage.expect(false);
  CHECK_EQ(feed_steps(garbage, "SSH-2.0-OpenSSH\r\n", 0), Result::kError);
  CHECK(std::string(garbage.error()).size() > 0);

  ResponseReader sw(1024);
  sw.expect(false);
  CHECK_EQ(feed_steps(sw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 0), Result::kError);

  // Two final answers to one request: the second was asked by no one (pipelining 1).
  ResponseReader two(1024);
  two.expect(false);
  CHECK_EQ(feed_steps(two, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0), Result::kError);

  // reset(): a new connection parses from scratch.
  two.reset();
  two.expect(false);
  CHECK_EQ(feed_steps(two, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0), Result::kComplete);
  CHECK(!two.answer().keep_alive);  // HTTP/1.0 without keep-alive
}
