#include "analysis/record_rows.h"

#include <cstring>

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

}  // namespace

double row_us(uint64_t ns) {
  if (ns == kUnknownNs) return -1;
  return static_cast<double>(ns / 1000 + (ns % 1000 >= 500 ? 1 : 0));
}

namespace {

template <typename Rows>
void write_row(Rows& rows, const FlowNumbers& r, const LineSpans& s) {
  Row<kFlowRowSize> row;
  row.head(kRowFlow, r.ends, static_cast<uint16_t>(r.state), s);
  row.put(32, count(r.client_packets));
  row.put(40, count(r.server_packets));
  row.put(48, count(r.client_bytes));
  row.put(56, count(r.server_bytes));
  row.put(64, count(r.retransmitted_packets));
  row.put(72, row_us(r.handshake_rtt));
  row.put(80, row_us(r.duration));
  row.append_to(rows);
}

template <typename Rows>
void write_row(Rows& rows, const HttpNumbers& r, const LineSpans& s) {
  Row<kHttpRowSize> row;
  row.head(kRowHttp, r.ends, 0, s);
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
void write_row(Rows& rows, const DnsNumbers& r, const LineSpans& s) {
  Row<kDnsRowSize> row;
  row.head(kRowDns, r.ends, r.qtype, s);
  row.span(32, s.a);
  row.span(40, s.b);
  row.span(48, s.c);
  row.put<int32_t>(56, r.rcode >= 0 ? r.rcode : -1);
  row.put<uint16_t>(60, r.answers);
  row.put(64, row_us(r.latency));
  row.append_to(rows);
}

}  // namespace

void append_row(ByteSink& rows, const FlowNumbers& r, const LineSpans& s) { write_row(rows, r, s); }
void append_row(std::string& rows, const FlowNumbers& r, const LineSpans& s) { write_row(rows, r, s); }
void append_row(ByteSink& rows, const HttpNumbers& r, const LineSpans& s) { write_row(rows, r, s); }
void append_row(std::string& rows, const HttpNumbers& r, const LineSpans& s) { write_row(rows, r, s); }
void append_row(ByteSink& rows, const DnsNumbers& r, const LineSpans& s) { write_row(rows, r, s); }
void append_row(std::string& rows, const DnsNumbers& r, const LineSpans& s) { write_row(rows, r, s); }

}  // namespace podspan
