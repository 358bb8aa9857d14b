// Fixed rows beside the JSON lines: for each flow, HTTP and DNS record the queue to JavaScript
// also appends one fixed-size binary row holding what the aggregates and the metrics need, so
// JavaScript reads numbers with a DataView and never parses the JSON (src/analysis/record-rows.ts
// decodes them; the JSON lines stay the files' and the collector's bytes, unchanged).
//
// Every field is little-endian at a fixed offset (the kRow* constants below are the layout; the
// TypeScript reader restates them). Strings are spans into the same batch's JSON bytes: the
// offset of the value's JSON text, quotes included, and its length; offset kNoSpan means the
// JSON has null there. Durations are whole microseconds as float64, rounded exactly as the JSON
// writes them (so us / 1000 in JavaScript is the very double JSON.parse gives, for durations
// below 2^53 us, 285 years); -1 when the JSON has null. Counts are float64 (exact below 2^53, rounded as JSON.parse rounds above).
//
// Common head (all kinds), 32 bytes:
//   0 u8 kind (kRowFlow, kRowHttp, kRowDns) in bits 0-3, and in bits 4-7 which strings have the
//     same JSON text as in the row before (kRowSame*; never set in a batch's first row)
//   1 u8 ip_version   2 u16 server_port   4 u16 vlan
//   6 u16 kind-specific (flow: state; dns: qtype; http: 0)
//   8 span line (the record's whole JSON line, '\n' excluded)   16 span server   24 span client
//   (their address texts)
// Flow (kFlowRowSize): 32 f64 client_packets  40 f64 server_packets  48 f64 client_bytes
//   56 f64 server_bytes  64 f64 retransmitted_packets  72 f64 handshake_rtt_us  80 f64 duration_us
//   88 span ts (its ISO 8601 text)  96 u16 client_port  98 6 bytes 0
// HTTP (kHttpRowSize): 32 span method  40 span route  48 i32 status (-1: null)
//   52 i32 grpc_status (-1: null)  56 f64 latency_us  64 f64 duration_us  72 f64 request_bytes
//   80 f64 response_bytes
// DNS (kDnsRowSize): 32 span query  40 span qtype_name  48 span rcode_name  56 i32 rcode (-1: null)
//   60 u16 answers  62 u16 0  64 f64 latency_us
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "analysis/records.h"
#include "common/byte_sink.h"

namespace podspan {

// Where a string value sits in the JSON bytes of a batch (quotes included).
struct JsonSpan {
  uint32_t offset = UINT32_MAX;  // kNoSpan: the value is null
  uint32_t len = 0;
};
constexpr uint32_t kNoSpan = UINT32_MAX;

// The spans the JSON writer reports for one line (json_records.h), offsets into its output.
struct LineSpans {
  JsonSpan line, server, client, ts;
  JsonSpan a, b, c;  // flow: unused; http: method, route; dns: query, qtype_name, rcode_name
};

enum RowKind : uint8_t { kRowFlow = 1, kRowHttp = 2, kRowDns = 3 };
constexpr uint8_t kRowKindMask = 0x0f;
// A reader going row by row keeps what it read for these instead of decoding them again: on
// request-dense traffic most requests name the server, client, method and route of the one
// before. A and B: HTTP method and route, DNS query and qtype_name (flows have neither).
enum RowSame : uint8_t { kRowSameServer = 0x10, kRowSameClient = 0x20, kRowSameA = 0x40, kRowSameB = 0x80 };
constexpr size_t kFlowRowSize = 104, kHttpRowSize = 88, kDnsRowSize = 72;

// Microseconds as the JSON writes a duration (append_ms), -1 for unknown.
double row_us(uint64_t ns);

// Each appends one row to `rows`; `spans` come from append_json of the same record into the
// batch's JSON bytes, which `json` points at (the start of the batch's, the record's line
// already there: the rows' same-as-before bits compare its text with the row before's).
void append_row(ByteSink& rows, const FlowNumbers& r, const LineSpans& spans, const char* json);
void append_row(ByteSink& rows, const HttpNumbers& r, const LineSpans& spans, const char* json);
void append_row(ByteSink& rows, const DnsNumbers& r, const LineSpans& spans, const char* json);
void append_row(std::string& rows, const FlowNumbers& r, const LineSpans& spans, const char* json);
void append_row(std::string& rows, const HttpNumbers& r, const LineSpans& spans, const char* json);
void append_row(std::string& rows, const DnsNumbers& r, const LineSpans& spans, const char* json);

}  // namespace podspan
