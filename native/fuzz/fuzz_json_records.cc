// libFuzzer target: records whose strings and numbers come from the input (as paths, hosts and
// DNS names come from the network) must serialise to lines that are each one valid JSON object
// in valid UTF-8, as the strict RFC 8259 recogniser in tests/strict_json.h judges them; and each
// flow, HTTP and DNS record's fixed row (analysis/record_rows.h) must agree with its line, span
// for span and number for number, as tests/row_check.h judges them; and queued in compact form
// and formatted when taken (analysis/record_batch.h), each must give the very bytes formatting it
// directly gives, each row after the first marking exactly the strings the row before had.
#include <cstddef>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#include "../tests/row_check.h"
#include "../tests/strict_json.h"
#include "analysis/json_records.h"
#include "analysis/record_batch.h"

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  uint64_t num() {
    uint64_t v = 0;
    const size_t k = n < 8 ? n : 8;
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
  // A duration in ns: below 2^62 (the rows' microseconds are exact there), or unknown.
  uint64_t ns() {
    const uint64_t v = num();
    return (v & 1) ? podspan::kUnknownNs : v >> 2;
  }
  std::string str() {
    const size_t len = n ? p[0] % 64 : 0;
    if (n) ++p, --n;
    const size_t k = len < n ? len : n;
    std::string s(reinterpret_cast<const char*>(p), k);
    p += k;
    n -= k;
    return s;
  }
};

void check_lines(const std::string& out, size_t expected_lines) {
  size_t lines = 0;
  if (!podspan_test::strict_json_lines(out, lines) || lines != expected_lines) __builtin_trap();
}

// Each record's line goes after what `out` already holds (rows point into the whole batch).
template <typename R>
void check_row(std::string& out, const R& r) {
  podspan::LineSpans spans;
  std::string row;
  podspan::append_json(out, r, &spans);
  podspan::append_row(row, r, spans, out.data());
  if (!podspan_test::check_row(out, reinterpret_cast<const uint8_t*>(row.data())).empty()) __builtin_trap();
}

// Records queued in compact form (analysis/record_batch.h) must format to the lines and rows that
// formatting them directly gives; and each row after the first must mark exactly the strings
// the row before it had.
template <typename R>
void check_deferred(const std::string& got_lines, const std::string& got_rows, std::initializer_list<const R*> records) {
  std::string lines, rows;
  for (const R* r : records) {
    podspan::LineSpans spans;
    podspan::append_json(lines, *r, &spans);
    podspan::append_row(rows, *r, spans, lines.data());
  }
  if (got_lines != lines || got_rows != rows) __builtin_trap();
  const size_t size = got_rows.size() / records.size();
  const auto* row = reinterpret_cast<const uint8_t*>(got_rows.data());
  for (size_t i = 0; i < records.size(); ++i)
    if (!podspan_test::check_row(got_lines, row + i * size, i ? row + (i - 1) * size : nullptr).empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  Input in{data, size};
  std::string out;
  FlowRecord f;
  f.uid = in.num();
  f.ends.ip_version = (in.num() & 1) ? 6 : 4;
  std::memcpy(f.ends.client, data, size < 16 ? size : 16);
  f.ends.vlan = static_cast<uint16_t>(in.num());
  f.ts = in.num();
  f.duration = in.ns();
  f.handshake_rtt = in.ns();
  f.client_packets = in.num();
  f.server_bytes = in.num();
  f.retransmitted_packets = in.num();
  std::memcpy(f.ends.server, data + (size > 16 ? size - 16 : 0), size < 16 ? size : 16);
  f.ends.server_port = static_cast<uint16_t>(in.num());
  f.client_rtt = kUnknownNs;
  f.state = static_cast<ConnState>(in.num() % 7);
  f.close_reason = in.str();
  f.app = in.str();
  check_row(out, f);
  HttpRecord h;
  h.uid = in.num();
  h.ts = in.num();
  h.version = in.str();
  h.method = in.str();
  h.host = in.str();
  h.path = in.str();
  h.route = in.str();
  h.status = static_cast<int>(in.num());
  h.grpc_status = static_cast<int>(in.num());
  h.latency = in.ns();
  h.duration = in.ns();
  h.request_bytes = in.num();
  h.note = in.str();
  check_row(out, h);
  DnsRecord d;
  d.proto = in.str();
  d.query = in.str();
  d.qtype = static_cast<uint16_t>(in.num());
  d.rcode = static_cast<int>(in.num());
  d.latency = in.ns();
  d.answers = static_cast<uint16_t>(in.num());
  check_row(out, d);
  AlertRecord a;  // the route comes from the network; the numbers may be anything a double holds
  a.kind = static_cast<AlertKind>(in.num() % 5);
  a.id = in.num();
  a.cleared = in.num() & 1;
  a.ts = in.num();
  a.started = in.num();
  a.has_server = in.num() & 1;
  a.has_source = in.num() & 1;
  a.ends.ip_version = (in.num() & 1) ? 6 : 4;
  a.route = in.str();
  const uint64_t bits[4] = {in.num(), in.num(), in.num(), in.num()};
  std::memcpy(&a.rate, &bits[0], 8);
  std::memcpy(&a.baseline, &bits[1], 8);
  std::memcpy(&a.threshold, &bits[2], 8);
  std::memcpy(&a.share, &bits[3], 8);
  a.evidence = in.str();
  append_json(out, a);
  check_lines(out, 4);
  // A second record of each kind, its strings the first's or others by the input's bits.
  const uint64_t keep = in.num();
  FlowRecord f2 = f;
  if (keep & 1) f2.ends.server[3] ^= 1;
  HttpRecord h2 = h;
  if (keep & 2) h2.method = in.str();
  if (keep & 4) h2.route = in.str();
  if (keep & 8) h2.ends.client[0] ^= 1;
  DnsRecord d2 = d;
  if (keep & 16) d2.query = in.str();
  if (keep & 32) d2.qtype = static_cast<uint16_t>(in.num());
  CompactBatch compact;
  compact.add(f, texts_of(f));
  compact.add(h, texts_of(h));
  compact.add(d, texts_of(d));
  compact.add(a);
  compact.add(f2, texts_of(f2));
  compact.add(h2, texts_of(h2));
  compact.add(d2, texts_of(d2));
  RecordBatch taken;
  compact.format(taken);
  check_deferred(taken.flows, taken.flow_rows, {&f, &f2});
  check_deferred(taken.http, taken.http_rows, {&h, &h2});
  check_deferred(taken.dns, taken.dns_rows, {&d, &d2});
  std::string alert_line;
  append_json(alert_line, a);
  if (taken.alerts != alert_line) __builtin_trap();
  return 0;
}
