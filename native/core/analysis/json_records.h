// JSON lines of the three record kinds (flows.jsonl, http.jsonl, dns.jsonl): one object per
// line, field names as in records.h, durations in ms with microsecond precision, ts as ISO 8601
// UTC with nanoseconds, addresses as text (IPv6 compressed), unknowns as null. Strings come
// from the network (paths, hosts, DNS names): control bytes, quotes and invalid UTF-8 are
// escaped or replaced (U+FFFD) so every line is valid JSON.
#pragma once

#include <cstdint>
#include <string>

#include "analysis/record_rows.h"
#include "analysis/records.h"
#include "common/byte_sink.h"

namespace podspan {

// Each appends one line (ending in '\n') to out; with `spans`, also where the line and the
// strings a row points at went in out (record_rows.h). A record is its numbers and its strings
// (records.h): a whole record, or the two as a queued batch keeps them (record_batch.h). Into a
// sink the line is written in place (a JavaScript Buffer); through an appender into its string
// (a batch's); into a string, through an appender made for the one line.
void append_json(ByteSink& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans = nullptr);
void append_json(ByteSink& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans = nullptr);
void append_json(ByteSink& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans = nullptr);
void append_json(ByteSink& out, const AlertRecord& r);
void append_json(StringAppender& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans = nullptr);
void append_json(StringAppender& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans = nullptr);
void append_json(StringAppender& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans = nullptr);
void append_json(StringAppender& out, const AlertRecord& r);
void append_json(std::string& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans = nullptr);
void append_json(std::string& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans = nullptr);
void append_json(std::string& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans = nullptr);
inline void append_json(std::string& out, const FlowRecord& r, LineSpans* spans = nullptr) { append_json(out, r, texts_of(r), spans); }
inline void append_json(std::string& out, const HttpRecord& r, LineSpans* spans = nullptr) { append_json(out, r, texts_of(r), spans); }
inline void append_json(std::string& out, const DnsRecord& r, LineSpans* spans = nullptr) { append_json(out, r, texts_of(r), spans); }
void append_json(std::string& out, const AlertRecord& r);  // alerts.jsonl

// Building blocks, exposed for tests.
void append_json_string(std::string& out, const char* s, size_t n);
void append_decimal(std::string& out, double v);  // 12.345 (3 decimals, rounded); null when not finite
void append_ms(std::string& out, uint64_t ns);    // 12.345 (ns rounded to the microsecond); null when kUnknownNs
uint64_t rounded_us(uint64_t ns);                  // ns to the nearest microsecond, as append_ms writes it
void append_iso_time(std::string& out, uint64_t ns);  // "2026-11-28T10:00:00.123456789Z"
void append_address(std::string& out, uint8_t ip_version, const uint8_t* addr);  // "10.0.0.1" / "2001:db8::1"
const char* dns_type_name(uint16_t qtype);   // "A", "AAAA", ... or nullptr when we have no name
const char* dns_rcode_name(int rcode);       // "NOERROR", "NXDOMAIN", ... or nullptr

}  // namespace podspan
