#include "analysis/record_rows.h"

#include <cstring>
#include <utility>

namespace podspan {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "rows are written in the host's byte order, which must be little-endian");

// One row being filled in place (zeroed first, so padding is always 0).
template <size_t N>
struct Row {
  uint8_t b[N] = {0};
  template <typename T>
  void put(size_t at, T v) {
    static_assert(sizeof(T) <= N, "field wider than the row");
    std::memcpy(b + at, &v, sizeof v);
  }
  void span(size_t at, const JsonSpan& s) {
    put<uint32_t>(at, s.offset);
    put<uint32_t>(at + 4, s.len);
  }
  void head(RowKind kind, const RecordEndpoints& e, uint16_t extra, const LineSpans& s) {
    put<uint8_t>(0, kind);
    put<uint8_t>(1, e.ip_version);
    put<uint16_t>(2, e.server_port);
    put<uint16_t>(4, e.vlan);
    put<uint16_t>(6, extra);
    span(8, s.line);
    span(16, s.server);
    span(24, s.client);
  }
  void append_to(ByteSink& rows) const { rows.append(b, N); }
  void append_to(std::string& rows) const { rows.append(reinterpret_cast<const char*>(b), N); }
};

double count(uint64_t v) { return static_cast<double>(v); }

JsonSpan span_in(const uint8_t* row, size_t at) {
  JsonSpan s;
  std::memcpy(&s.offset, row + at, 4);
  std::memcpy(&s.len, row + at + 4, 4);
  return s;
}

// The same JSON text at both spans (both null counts as the same).
bool same_text(const char* json, JsonSpan a, JsonSpan b) {
  if (a.offset == kNoSpan || b.offset == kNoSpan) return a.offset == b.offset;
  return a.len == b.len && std::memcmp(json + a.offset, json + b.offset, a.len) == 0;
}

// The kRowSame* bits of a row whose string spans are `now`, against the row before it in `rows`
// (none for the first): each pair is (offset in the row, its span now, its bit).
template <typename Rows, size_t K>
uint8_t same_bits(const Rows& rows, size_t row_size, const char* json, const std::pair<size_t, JsonSpan> (&now)[K],
                  const uint8_t (&bits)[K]) {
  if (rows.size() < row_size) return 0;
  const auto* prev = reinterpret_cast<const uint8_t*>(rows.data()) + rows.size() - row_size;
  uint8_t same = 0;
  for (size_t k = 0; k < K; ++k)
    if (same_text(json, span_in(prev, now[k].first), now[k].second)) same |= bits[k];
  return same;
}

}  // namespace

double row_us(uint64_t ns) {
  if (ns == kUnknownNs) return -1;
  return static_cast<double>(ns / 1000 + (ns % 1000 >= 500 ? 1 : 0));
}

namespace {

template <typename Rows>
void write_row(Rows& rows, const FlowNumbers& r, const LineSpans& s, const char* json) {
  Row<kFlowRowSize> row;
  row.head(kRowFlow, r.ends, static_cast<uint16_t>(r.state), s);
  row.b[0] |= same_bits(rows, kFlowRowSize, json, {std::pair<size_t, JsonSpan>{16, s.server}, {24, s.client}},
                        {kRowSameServer, kRowSameClient});
  row.put(32, count(r.client_packets));
  row.put(40, count(r.server_packets));
  row.put(48, count(r.client_bytes));
  row.put(56, count(r.server_bytes));
  row.put(64, count(r.retransmitted_packets));
  row.put(72, row_us(r.handshake_rtt));
  row.put(80, row_us(r.duration));
  row.span(88, s.ts);
  row.put<uint16_t>(96, r.ends.client_port);
  row.append_to(rows);
}

template <typename Rows>
void write_row(Rows& rows, const HttpNumbers& r, const LineSpans& s, const char* json) {
  Row<kHttpRowSize> row;
  row.head(kRowHttp, r.ends, 0, s);
  row.b[0] |= same_bits(rows, kHttpRowSize, json,
                        {std::pair<size_t, JsonSpan>{16, s.server}, {24, s.client}, {32, s.a}, {40, s.b}},
                        {kRowSameServer, kRowSameClient, kRowSameA, kRowSameB});
  row.span(32, s.a);
  row.span(40, s.b);
  row.put<int32_t>(48, r.status > 0 ? r.status : -1);  // as the JSON: null unless positive
  row.put<int32_t>(52, r.grpc_status >= 0 ? r.grpc_status : -1);
  row.put(56, row_us(r.latency));
  row.put(64, row_us(r.duration));
  row.put(72, count(r.request_bytes));
  row.put(80, count(r.response_bytes));
  row.append_to(rows);
}

template <typename Rows>
void write_row(Rows& rows, const DnsNumbers& r, const LineSpans& s, const char* json) {
  Row<kDnsRowSize> row;
  row.head(kRowDns, r.ends, r.qtype, s);
  row.b[0] |= same_bits(rows, kDnsRowSize, json,
                        {std::pair<size_t, JsonSpan>{16, s.server}, {24, s.client}, {32, s.a}, {40, s.b}},
                        {kRowSameServer, kRowSameClient, kRowSameA, kRowSameB});
  row.span(32, s.a);
  row.span(40, s.b);
  row.span(48, s.c);
  row.put<int32_t>(56, r.rcode >= 0 ? r.rcode : -1);
  row.put<uint16_t>(60, r.answers);
  row.put(64, row_us(r.latency));
  row.append_to(rows);
}

}  // namespace

void append_row(ByteSink& rows, const FlowNumbers& r, const LineSpans& s, const char* json) { write_row(rows, r, s, json); }
void append_row(std::string& rows, const FlowNumbers& r, const LineSpans& s, const char* json) {
  write_row(rows, r, s, json);
}
void append_row(ByteSink& rows, const HttpNumbers& r, const LineSpans& s, const char* json) { write_row(rows, r, s, json); }
void append_row(std::string& rows, const HttpNumbers& r, const LineSpans& s, const char* json) {
  write_row(rows, r, s, json);
}
void append_row(ByteSink& rows, const DnsNumbers& r, const LineSpans& s, const char* json) { write_row(rows, r, s, json); }
void append_row(std::string& rows, const DnsNumbers& r, const LineSpans& s, const char* json) {
  write_row(rows, r, s, json);
}

}  // namespace podspan
