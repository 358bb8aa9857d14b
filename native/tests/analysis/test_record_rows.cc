// The fixed rows beside the JSON lines (analysis/record_rows.h): exact values of known records at
// the documented offsets, spans onto the JSON strings (escapes included) at a batch offset past
// the first line, nulls where the line has null; and each row judged against its line's text.
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "check.h"
#include "row_check.h"
#include "analysis/json_records.h"
#include "analysis/record_rows.h"

using namespace podspan;

namespace {

template <typename T>
T at(const std::string& rows, size_t row_off, size_t field) {
  T v;
  std::memcpy(&v, rows.data() + row_off + field, sizeof v);
  return v;
}

std::string span_text(const std::string& out, const std::string& rows, size_t row_off, size_t field) {
  const uint32_t off = at<uint32_t>(rows, row_off, field);
  if (off == kNoSpan) return "<null>";
  return out.substr(off, at<uint32_t>(rows, row_off, field + 4));
}

RecordEndpoints ends() {
  RecordEndpoints e;
  const uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
  std::memcpy(e.client, c, 4);
  std::memcpy(e.server, s, 4);
  e.client_port = 40000;
  e.server_port = 8080;
  e.vlan = 7;
  return e;
}

}  // namespace

TEST(rows_http_values_spans_and_nulls) {
  std::string out, rows;
  HttpRecord h;
  h.uid = 3;
  h.ends = ends();
  h.ts = 1764324000123456789ull;
  h.version = "1.1";
  h.method = "GET";
  h.path = "/a\"b/12";
  h.route = "/a\"b/{id}";
  h.status = 503;
  h.latency = 12345678;  // 12.346 ms
  h.request_bytes = 100;
  h.response_bytes = 2000;
  for (int i = 0; i < 2; ++i) {  // the second row's offsets are past the first line
    LineSpans s;
    append_json(out, h, &s);
    append_row(rows, h, s, out.data());
    h.status = 0;  // unanswered: null in the line and -1 in the row
    h.method.clear();
  }
  CHECK_EQ(rows.size(), 2 * kHttpRowSize);
  const size_t second = out.find('\n') + 1;
  CHECK_EQ(at<uint8_t>(rows, 0, 0), uint8_t(kRowHttp));
  CHECK_EQ(at<uint8_t>(rows, 0, 1), uint8_t(4));
  CHECK_EQ(at<uint16_t>(rows, 0, 2), uint16_t(8080));
  CHECK_EQ(at<uint16_t>(rows, 0, 4), uint16_t(7));
  CHECK_EQ(span_text(out, rows, 0, 8), out.substr(0, second - 1));
  CHECK_EQ(span_text(out, rows, 0, 16), std::string("\"10.0.0.2\""));
  CHECK_EQ(span_text(out, rows, 0, 24), std::string("\"10.0.0.1\""));
  CHECK_EQ(span_text(out, rows, 0, 32), std::string("\"GET\""));
  CHECK_EQ(span_text(out, rows, 0, 40), std::string("\"/a\\\"b/{id}\""));
  CHECK_EQ(at<int32_t>(rows, 0, 48), 503);
  CHECK_EQ(at<int32_t>(rows, 0, 52), -1);
  CHECK_EQ(at<double>(rows, 0, 56), 12346.0);
  CHECK_EQ(at<double>(rows, 0, 64), -1.0);
  CHECK_EQ(at<double>(rows, 0, 72), 100.0);
  CHECK_EQ(at<double>(rows, 0, 80), 2000.0);
  CHECK_EQ(at<uint32_t>(rows, kHttpRowSize, 8), uint32_t(second));
  CHECK_EQ(span_text(out, rows, kHttpRowSize, 32), std::string("<null>"));
  CHECK_EQ(span_text(out, rows, kHttpRowSize, 40), std::string("\"/a\\\"b/{id}\""));
  CHECK_EQ(at<int32_t>(rows, kHttpRowSize, 48), -1);
  const auto* row0 = reinterpret_cast<const uint8_t*>(rows.data());
  CHECK_EQ(podspan_test::check_row(out, row0), std::string());
  CHECK_EQ(podspan_test::check_row(out, row0 + kHttpRowSize, row0), std::string());
  CHECK_EQ(at<uint8_t>(rows, kHttpRowSize, 0), uint8_t(kRowHttp | kRowSameServer | kRowSameClient | kRowSameB));
}

TEST(rows_flow_and_dns) {
  std::string flows, dns, frows, drows;
  FlowRecord f;
  f.uid = 1;
  f.ends = ends();
  f.ends.ip_version = 6;
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  std::memcpy(f.ends.server, v6, 16);
  f.state = ConnState::kRejected;
  f.client_packets = 3;
  f.server_packets = 1;
  f.retransmitted_packets = 2;
  f.handshake_rtt = 499;  // rounds to 0 us: "0.000", not null
  f.duration = 1500;      // 2 us
  LineSpans s;
  append_json(flows, f, &s);
  append_row(frows, f, s, flows.data());
  CHECK_EQ(frows.size(), kFlowRowSize);
  CHECK_EQ(span_text(flows, frows, 0, 16), std::string("\"2001:db8::7\""));
  CHECK_EQ(at<uint16_t>(frows, 0, 6), uint16_t(ConnState::kRejected));
  CHECK_EQ(at<double>(frows, 0, 32), 3.0);
  CHECK_EQ(at<double>(frows, 0, 64), 2.0);
  CHECK_EQ(at<double>(frows, 0, 72), 0.0);
  CHECK_EQ(at<double>(frows, 0, 80), 2.0);
  CHECK_EQ(span_text(flows, frows, 0, 88), std::string("\"1970-01-01T00:00:00.000000000Z\""));
  CHECK_EQ(at<uint16_t>(frows, 0, 96), f.ends.client_port);
  CHECK(f.ends.client_port != 0);
  CHECK_EQ(podspan_test::check_row(flows, reinterpret_cast<const uint8_t*>(frows.data())), std::string());

  DnsRecord d;
  d.ends = ends();
  d.proto = "udp";
  d.query = "caf\xc3\xa9.example\x01";
  d.qtype = 99;   // no name: "TYPE99"
  d.rcode = -1;   // unanswered: rcode and rcode_name null
  d.answers = 0;
  LineSpans ds;
  append_json(dns, d, &ds);
  append_row(drows, d, ds, dns.data());
  d.qtype = 1;
  d.rcode = 2;
  d.answers = 4;
  d.latency = 600000;
  append_json(dns, d, &ds);
  append_row(drows, d, ds, dns.data());
  CHECK_EQ(drows.size(), 2 * kDnsRowSize);
  CHECK_EQ(span_text(dns, drows, 0, 32), std::string("\"caf\xc3\xa9.example\\u0001\""));
  CHECK_EQ(span_text(dns, drows, 0, 40), std::string("\"TYPE99\""));
  CHECK_EQ(span_text(dns, drows, 0, 48), std::string("<null>"));
  CHECK_EQ(at<int32_t>(drows, 0, 56), -1);
  CHECK_EQ(span_text(dns, drows, kDnsRowSize, 40), std::string("\"A\""));
  CHECK_EQ(span_text(dns, drows, kDnsRowSize, 48), std::string("\"SERVFAIL\""));
  CHECK_EQ(at<int32_t>(drows, kDnsRowSize, 56), 2);
  CHECK_EQ(at<uint16_t>(drows, kDnsRowSize, 60), uint16_t(4));
  CHECK_EQ(at<double>(drows, kDnsRowSize, 64), 600.0);
  const auto* drow0 = reinterpret_cast<const uint8_t*>(drows.data());
  CHECK_EQ(podspan_test::check_row(dns, drow0), std::string());
  CHECK_EQ(podspan_test::check_row(dns, drow0 + kDnsRowSize, drow0), std::string());
  CHECK_EQ(at<uint8_t>(drows, kDnsRowSize, 0), uint8_t(kRowDns | kRowSameServer | kRowSameClient | kRowSameA));
}

TEST(rows_check_catches_a_wrong_row) {
  // The judge itself: a row whose status disagrees with its line is named.
  std::string out, rows;
  HttpRecord h;
  h.ends = ends();
  h.status = 200;
  LineSpans s;
  append_json(out, h, &s);
  append_row(rows, h, s, out.data());
  const int32_t wrong = 201;
  std::memcpy(&rows[48], &wrong, 4);
  CHECK(podspan_test::check_row(out, reinterpret_cast<const uint8_t*>(rows.data())).find("status") != std::string::npos);
}

TEST(rows_long_strings_grow_the_line_midway) {
  // Strings far past the line's fixed room, escaped six-fold: the writer's scratch grows in the
  // middle of the line; the line, its spans and the strings stay exact (ASan watches the writes).
  std::string out = "x\n", rows;  // the batch already holds a line
  HttpRecord h;
  h.ends = ends();
  h.method = "GET";
  h.path = std::string(70000, '\x01');
  h.route = std::string(50000, 'r') + "\"" + std::string(50000, '\xff');
  LineSpans s;
  append_json(out, h, &s);
  append_row(rows, h, s, out.data());
  CHECK_EQ(span_text(out, rows, 0, 40), [&] {
    std::string r;
    append_json_string(r, h.route.data(), h.route.size());
    return r;
  }());
  CHECK(out.find(std::string("\"path\":\"") + [] {
    std::string e;
    for (int i = 0; i < 70000; ++i) e += "\\u0001";
    return e;
  }() + "\",\"route\":") != std::string::npos);
  CHECK_EQ(podspan_test::check_row(out, reinterpret_cast<const uint8_t*>(rows.data())), std::string());
}

TEST(rows_mark_the_strings_the_row_before_had) {
  // Row by row: the same text (null and null alike) sets the bit, other text or a null against
  // a value does not; a batch's first row has none; the judge names a bit that lies.
  std::string out, rows;
  HttpRecord h;
  h.ends = ends();
  h.method = "GET";
  h.route = "/a/{id}";
  const std::vector<std::pair<const char*, const char*>> seq = {
      {"GET", "/a/{id}"}, {"GET", "/a/{id}"}, {"", "/a/{id}"}, {"", "/b"}, {"POST", "/b"}};
  for (const auto& [method, route] : seq) {
    h.method = method;
    h.route = route;
    LineSpans s;
    append_json(out, h, &s);
    append_row(rows, h, s, out.data());
  }
  const uint8_t both = kRowSameServer | kRowSameClient;
  const uint8_t want[] = {0, both | kRowSameA | kRowSameB, both | kRowSameB, both | kRowSameA, both | kRowSameB};
  const auto* row = reinterpret_cast<const uint8_t*>(rows.data());
  for (size_t i = 0; i < seq.size(); ++i) {
    CHECK_EQ(at<uint8_t>(rows, i * kHttpRowSize, 0), uint8_t(kRowHttp | want[i]));
    CHECK_EQ(podspan_test::check_row(out, row + i * kHttpRowSize, i ? row + (i - 1) * kHttpRowSize : nullptr), std::string());
  }
  rows[0] = static_cast<char>(rows[0] | kRowSameB);  // the first row claims its route was the row before's
  CHECK(podspan_test::check_row(out, row).find("same-as-before bit of b set") != std::string::npos);
  rows[kHttpRowSize] = static_cast<char>(rows[kHttpRowSize] & ~kRowSameA);
  CHECK(podspan_test::check_row(out, row + kHttpRowSize, row).find("same-as-before bit of a not set") != std::string::npos);
}
