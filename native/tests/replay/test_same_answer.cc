// SameAnswerCheck: when the transport may call a candidate's answer the same as production's
// (src/shadow/compare.ts would find nothing), and read_http_row: production's answer read back
// from the row the shadow extractor writes.
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "replay/same_answer.h"

using namespace podspan;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// An http row with production's answer, as the shadow extractor writes it; `data` gets the bodies.
std::string http_row(int status, const Headers& headers, const std::string& body, bool truncated, ExchangeBatch& b) {
  ExchangeRowWriter w(b, ExchangeRowKind::kHttp, 1);
  w.num(1).ms(0).str("GET").str("/").str("/").str("/").str("h").str("1.1");
  w.u32(1).str("Accept").str("*/*");
  w.slice("req", 3).num(3).flag(false).flag(true);
  w.num(status).str("1.1").u32(static_cast<uint32_t>(headers.size()));
  for (const auto& [n, v] : headers) w.str(n).str(v);
  w.slice(body.data(), body.size()).num(static_cast<double>(body.size() + (truncated ? 10 : 0))).flag(truncated).ms(0).ms(0).ms(0).end();
  return b.meta;
}

ResponseReader::Answer answer_of(const std::string& raw) {
  ResponseReader r(1024);
  r.expect(false);
  const auto result = r.feed(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  CHECK_EQ(int(result), int(ResponseReader::Result::kComplete));
  return r.answer();
}

// Whether the check calls `candidate` (a raw HTTP/1.1 answer) the same as production's.
bool same(int status, const Headers& production, const std::string& body, const std::string& candidate, bool truncated = false) {
  ExchangeBatch b;
  const std::string row = http_row(status, production, body, truncated, b);
  ExchangeRowRequest req;
  ExchangeRowResponse resp;
  CHECK(read_http_row(row, req, &resp));
  SameAnswerCheck check(SameAnswerRules{{"date", "server", "content-length", "connection", "x-ignored"}});
  return check.same(resp, std::string_view(b.data).substr(req.body_len), answer_of(candidate));
}

}  // namespace

TEST(read_http_row_reads_the_request_and_productions_answer) {
  ExchangeBatch b;
  const std::string row = http_row(404, {{"Content-Type", "text/plain"}, {"X-A", "1"}}, "nope", true, b);
  ExchangeRowRequest req;
  ExchangeRowResponse resp;
  CHECK(read_http_row(row, req, &resp));
  CHECK_EQ(req.method, std::string_view("GET"));
  CHECK_EQ(req.headers.size(), 1u);
  CHECK_EQ(req.body_len, 3u);
  CHECK(resp.present);
  CHECK_EQ(resp.status, 404.0);
  CHECK_EQ(resp.headers.size(), 2u);
  CHECK_EQ(resp.headers[1].first, std::string_view("X-A"));
  CHECK_EQ(resp.body_len, 4u);
  CHECK_EQ(resp.body_length, 14.0);
  CHECK(resp.body_truncated);
  // Cut anywhere, the row is refused, never read past.
  for (size_t n = 0; n < row.size(); ++n) {
    std::string cut = row.substr(0, n);
    if (n >= 4) {
      const auto len = static_cast<uint32_t>(n);
      std::memcpy(&cut[0], &len, sizeof len);
    }
    CHECK(!read_http_row(cut, req, &resp));
  }
}

TEST(same_answer_only_where_the_comparison_finds_nothing) {
  const Headers node = {{"Content-Type", "text/plain"}, {"Date", "Mon"}, {"Content-Length", "5"}};
  // The same, or differing only where the comparison does not look.
  CHECK(same(200, node, "hello", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon\r\nContent-Length: 5\r\n\r\nhello"));
  CHECK(same(200, node, "hello", "HTTP/1.1 200 OK\r\nserver: x\r\ncontent-type: text/plain\r\ndate: Tue\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello"));
  CHECK(same(200, {{"Content-Type", " text/plain\t"}}, "", "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n"));
  CHECK(same(200, {{"Set-Cookie", "sid=1; Path=/"}}, "", "HTTP/1.1 200 OK\r\nset-cookie: sid=2; Path=/\r\ncontent-length: 0\r\n\r\n"));
  CHECK(same(200, {{"X-Ignored", "a"}}, "", "HTTP/1.1 200 OK\r\nx-ignored: b\r\ncontent-length: 0\r\n\r\n"));
  // Differences, or what only the whole comparison can decide.
  CHECK(!same(200, {}, "hello", "HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello"));
  CHECK(!same(200, {}, "hello", "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHELLO"));
  CHECK(!same(200, {}, "hell", "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nhell", true));
  CHECK(!same(200, {{"Set-Cookie", "sid=1"}}, "", "HTTP/1.1 200 OK\r\nset-cookie: token=1\r\ncontent-length: 0\r\n\r\n"));
  CHECK(!same(200, {{"X-A", "1"}, {"X-B", "2"}}, "", "HTTP/1.1 200 OK\r\nx-b: 2\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n"));
  CHECK(!same(200, {}, "", "HTTP/1.1 200 OK\r\nx-new: 1\r\ncontent-length: 0\r\n\r\n"));
  CHECK(!same(200, {{"X-Gone", "1"}}, "", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
  CHECK(!same(200, {{"grpc-status", "0"}}, "", "HTTP/1.1 200 OK\r\ngrpc-status: 0\r\ncontent-length: 0\r\n\r\n"));
  CHECK(!same(200, {{"X-Caf\xc3\xa9", "1"}}, "", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
}

TEST(same_header_value_as_compare_ts_field_value) {
  CHECK(same_header_value("x", "a", "a"));
  CHECK(same_header_value("x", " a ", "a"));
  CHECK(!same_header_value("x", "a b", "ab"));
  CHECK(same_header_value("set-cookie", "sid=1", " sid =2"));
  CHECK(same_header_value("set-cookie", "flag", "flag"));
  CHECK(!same_header_value("set-cookie", "sid=1", "sid2=1"));
  CHECK(!same_header_value("x-cookie", "sid=1", "sid=2"));
}
