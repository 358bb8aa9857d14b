// Records queued in compact form and formatted when taken (analysis/record_batch.h, the
// RecordQueue's take) give JavaScript byte for byte the lines and rows that formatting each
// record where it was made gives (json_records.h, record_rows.h): every kind, with nulls,
// escapes, invalid UTF-8, IPv6, VLANs, unnamed DNS types and rcodes, kinds interleaved.
#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "analysis/json_records.h"
#include "analysis/record_batch.h"
#include "analysis/record_queue.h"
#include "analysis/record_rows.h"

using namespace podspan;

namespace {

RecordEndpoints v4(uint16_t vlan) {
  RecordEndpoints e;
  const uint8_t c[4] = {10, 0, 0, 1}, s[4] = {192, 168, 200, 254};
  std::memcpy(e.client, c, 4);
  std::memcpy(e.server, s, 4);
  e.client_port = 40000;
  e.server_port = 8080;
  e.vlan = vlan;
  return e;
}

RecordEndpoints v6() {
  RecordEndpoints e;
  e.ip_version = 6;
  inet_pton(AF_INET6, "2001:db8::1", e.client);
  inet_pton(AF_INET6, "fe80::1:0:0:2", e.server);
  e.client_port = 1;
  e.server_port = 65535;
  return e;
}

// Strings as the network sends them: plain, escapes, control bytes, invalid UTF-8, valid UTF-8.
const std::vector<std::string> kStrings = {
    "", "/fast/12345", "a\"b\\c", std::string("\x01\n\x1f\x7f\0z", 6), "\xff\xc3\xc0\xaf\xed\xa0\x80",
    "caf\xc3\xa9 \xf0\x9f\x98\x80", std::string(300, 'x')};
const std::string& text(size_t i) { return kStrings[i % kStrings.size()]; }

struct Records {
  std::vector<FlowRecord> flows;
  std::vector<HttpRecord> http;
  std::vector<DnsRecord> dns;
  std::vector<AlertRecord> alerts;
};

Records varied() {
  Records r;
  for (size_t i = 0; i < 21; ++i) {
    const RecordEndpoints ends = i % 3 == 0 ? v6() : v4(i % 2 ? 7 : 0);
    FlowRecord f;
    f.uid = i % 5 ? i : 0;
    f.ends = ends;
    f.ts = 1764324000123456789ull + i;
    f.duration = i * 999'500;
    f.client_bytes = UINT64_MAX - i;
    f.server_bytes = i;
    f.client_packets = 1ull << 53;
    f.server_packets = (1ull << 53) + 1;
    f.handshake_rtt = i % 2 ? kUnknownNs : 12'345'678;
    f.client_rtt = i % 3 ? kUnknownNs : 499;
    f.server_rtt = i % 4 ? 500 : kUnknownNs;
    f.retransmitted_packets = i;
    f.state = static_cast<ConnState>(i % 7);
    f.close_reason = i % 4 ? "fin" : "";
    f.app = text(i);
    r.flows.push_back(f);

    HttpRecord h;
    h.uid = i + 1;
    h.ends = ends;
    h.ts = 1764324000000000000ull + i * 1000;
    h.version = i % 2 ? "1.1" : "";
    h.stream_id = static_cast<uint32_t>(i);
    h.method = i % 6 ? "GET" : text(i + 3);
    h.host = text(i + 1);
    h.path = text(i + 2);
    h.route = text(i + 4);
    h.status = i % 4 ? 200 + static_cast<int>(i) : 0;
    h.grpc_status = i % 3 ? -1 : static_cast<int>(i);
    h.request_bytes = i * 100;
    h.response_bytes = UINT64_MAX;
    h.latency = i % 2 ? kUnknownNs : i * 1'234'567;
    h.duration = i % 5 ? kUnknownNs : 0;
    h.note = i % 3 ? "" : "no_response";
    r.http.push_back(h);

    DnsRecord d;
    d.uid = i % 2 ? i : 0;
    d.ends = ends;
    d.proto = i % 2 ? "tcp" : "udp";
    d.ts = 1764324000000000000ull - i;
    d.trans_id = static_cast<uint16_t>(i * 4000);
    d.query = text(i);
    d.qtype = static_cast<uint16_t>(i % 4 ? 28 : 999);  // AAAA, or a type without a name
    d.rcode = i % 5 == 0 ? -1 : static_cast<int>(i % 16);  // unanswered, named, or RCODE<n>
    d.answers = static_cast<uint16_t>(i);
    d.latency = i % 3 ? i * 7 : kUnknownNs;
    r.dns.push_back(d);
  }
  AlertRecord a;
  a.kind = AlertKind::kRequestSurge;
  a.id = 9;
  a.ends = v6();
  a.has_server = true;
  a.route = "/a\"b/{id}";
  a.rate = 1234.5;
  r.alerts.push_back(a);
  a.cleared = true;
  a.cleared_by = ClearCause::kQuiet;
  a.started = 1;
  r.alerts.push_back(a);
  return r;
}

// What formatting each record where it was made gives: one buffer per kind, its rows' spans
// offsets into it.
RecordBatch direct(const Records& r) {
  RecordBatch b;
  for (const FlowRecord& f : r.flows) {
    LineSpans s;
    append_json(b.flows, f, &s);
    append_row(b.flow_rows, f, s, b.flows.data());
  }
  for (const HttpRecord& h : r.http) {
    LineSpans s;
    append_json(b.http, h, &s);
    append_row(b.http_rows, h, s, b.http.data());
  }
  for (const DnsRecord& d : r.dns) {
    LineSpans s;
    append_json(b.dns, d, &s);
    append_row(b.dns_rows, d, s, b.dns.data());
  }
  for (const AlertRecord& a : r.alerts) append_json(b.alerts, a);
  b.flow_count = r.flows.size();
  b.http_count = r.http.size();
  b.dns_count = r.dns.size();
  b.alert_count = r.alerts.size();
  return b;
}

void check_same(const RecordBatch& got, const RecordBatch& want) {
  CHECK(got.flows == want.flows);
  CHECK(got.http == want.http);
  CHECK(got.dns == want.dns);
  CHECK(got.alerts == want.alerts);
  CHECK(got.flow_rows == want.flow_rows);
  CHECK(got.http_rows == want.http_rows);
  CHECK(got.dns_rows == want.dns_rows);
  CHECK_EQ(got.flow_count, want.flow_count);
  CHECK_EQ(got.http_count, want.http_count);
  CHECK_EQ(got.dns_count, want.dns_count);
  CHECK_EQ(got.alert_count, want.alert_count);
}

}  // namespace

TEST(record_queue_hands_over_the_bytes_direct_formatting_gives) {
  const Records r = varied();
  const RecordBatch want = direct(r);
  CHECK(want.http.find("\\ufffd") != std::string::npos && want.dns.find("\"2001:db8::1\"") != std::string::npos);
  CHECK(want.dns.find("\"TYPE999\"") != std::string::npos && want.dns.find("\"RCODE11\"") != std::string::npos);
  RecordQueueOptions o;
  o.batch_max_bytes = 1 << 20;  // one batch
  RecordQueue q(o);
  // Interleaved as analysers emit them.
  for (size_t i = 0; i < r.flows.size(); ++i) {
    q.http(r.http[i]);
    q.dns(r.dns[i]);
    q.flow(r.flows[i]);
    if (i == 3) q.alert(r.alerts[0]);
  }
  q.alert(r.alerts[1]);
  q.maybe_push(true);
  RecordBatch got;
  got.flows = "left over from a batch taken before";
  CHECK(q.take(got));
  check_same(got, want);
  CHECK(!q.take(got));
}

TEST(compact_batch_formats_the_same_bytes_again_into_a_reused_batch) {
  const Records r = varied();
  const RecordBatch want = direct(r);
  CompactBatch c;
  for (const FlowRecord& f : r.flows) c.add(f, texts_of(f));
  for (const HttpRecord& h : r.http) c.add(h, texts_of(h));
  for (const DnsRecord& d : r.dns) c.add(d, texts_of(d));
  for (const AlertRecord& a : r.alerts) c.add(a);
  CHECK_EQ(c.record_count(), 65u);
  // The bound counts the compact form: far less than the JSON it becomes.
  CHECK(c.bytes() < want.flows.size() + want.http.size() + want.dns.size());
  RecordBatch out;
  c.format(out);
  check_same(out, want);
  c.format(out);  // out's old contents are replaced, not appended to
  check_same(out, want);
  c.clear();
  CHECK(c.empty());
  CHECK_EQ(c.bytes(), 0u);
  c.format(out);
  CHECK(out.empty() && out.flows.empty() && out.http_rows.empty() && out.alerts.empty());
}

namespace {

// Memory that moves at every growth, by as little as asked, keeping only what it must, the old
// block freed (as the addon's sink over JavaScript Buffers moves to a new Buffer): a line that
// kept a pointer into the old block, or lost its first half in the move, would show.
class MovingSink final : public ByteSink {
 public:
  std::string bytes() const { return std::string(data_, size_); }
  int growths = 0;

 private:
  void grow(size_t capacity, size_t keep) override {
    auto* moved = new char[capacity];
    if (keep) std::memcpy(moved, data_, keep);
    block_.reset(moved);
    data_ = moved;
    capacity_ = capacity;
    ++growths;
  }
  std::unique_ptr<char[]> block_;
};

}  // namespace

TEST(record_queue_formats_into_sinks_whose_memory_moves_as_they_grow) {
  const Records r = varied();
  const RecordBatch want = direct(r);
  RecordQueueOptions o;
  o.batch_max_bytes = 1 << 20;
  RecordQueue q(o);
  for (size_t i = 0; i < r.flows.size(); ++i) {
    q.http(r.http[i]);
    q.dns(r.dns[i]);
    q.flow(r.flows[i]);
  }
  for (const AlertRecord& a : r.alerts) q.alert(a);
  q.maybe_push(true);
  MovingSink flows, http, dns, alerts, flow_rows, http_rows, dns_rows;
  RecordSinks sinks{flows, http, dns, alerts, flow_rows, http_rows, dns_rows};
  RecordBatch::Counts counts{};
  CHECK(q.take(sinks, counts));
  CHECK(flows.bytes() == want.flows && http.bytes() == want.http && dns.bytes() == want.dns);
  CHECK(alerts.bytes() == want.alerts);
  CHECK(flow_rows.bytes() == want.flow_rows && http_rows.bytes() == want.http_rows && dns_rows.bytes() == want.dns_rows);
  CHECK_EQ(counts.flows, want.flow_count);
  CHECK_EQ(counts.http, want.http_count);
  CHECK_EQ(counts.dns, want.dns_count);
  CHECK_EQ(counts.alerts, want.alert_count);
  CHECK(http.growths >= 21);  // it moved at every line (each asks for more than it writes)
  CHECK(!q.take(sinks, counts));
}

TEST(string_appender_appends_each_line_whole_and_keeps_what_was_written_across_growth) {
  std::string out = "head:";
  StringAppender a(out);
  CHECK_EQ(a.size(), 5u);
  char* p = a.room(3, 0);
  std::memcpy(p, "abc", 3);
  p = a.room(10000, 3);  // grows with a line under way: its first bytes kept
  CHECK(std::memcmp(p, "abc", 3) == 0);
  std::memset(p + 3, 'x', 9997);
  CHECK(out == "head:");  // nothing appended before the line ends
  a.end_at(p + 10000);
  CHECK_EQ(out.size(), 10005u);
  CHECK(out.compare(0, 8, "head:abc") == 0 && out.back() == 'x');
  p = a.room(2, 0);
  std::memcpy(p, "yz", 2);
  a.end_at(p + 2);
  CHECK_EQ(a.size(), 10007u);
  CHECK(out.compare(10005, 2, "yz") == 0);
}
