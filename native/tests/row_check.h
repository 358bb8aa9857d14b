// Checks one fixed row (analysis/record_rows.h) against the JSON line it stands beside, by the
// line's text alone: every span must start exactly where the member's value starts in the line
// and cover the whole JSON string; every number must print as the line prints it; null where the
// line has null. Shared by the row writer's unit test and the json_records fuzz target.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "analysis/record_rows.h"
#include "analysis/records.h"

namespace podspan_test {

class RowCheck {
 public:
  // `out`: the batch's JSON bytes; `row`: the row's bytes. why() names the first mismatch.
  RowCheck(const std::string& out, const uint8_t* row) : out_(out), row_(row) {}

  bool ok() const { return why_.empty(); }
  const std::string& why() const { return why_; }

  template <typename T>
  T get(size_t at) const {
    T v;
    std::memcpy(&v, row_ + at, sizeof v);
    return v;
  }

  // The line span covers one whole line (its '}' last, '\n' right after). Call first.
  void line(uint8_t kind) {
    if ((get<uint8_t>(0) & podspan::kRowKindMask) != kind) return fail("kind");
    const uint32_t off = get<uint32_t>(8), len = get<uint32_t>(12);
    if (off > out_.size() || len < 2 || len > out_.size() - off - 1) return fail("line span out of range");
    if (out_[off] != '{' || out_[off + len - 1] != '}' || out_[off + len] != '\n' || (off && out_[off - 1] != '\n'))
      return fail("line span is not a line");
    line_ = out_.substr(off, len);
    line_off_ = off;
  }

  // The span at `at` is the member's value: null (kNoSpan) exactly when the line has null.
  void span(size_t at, const char* key) {
    const size_t v = value_start(key);
    if (v == std::string::npos) return;
    const uint32_t off = get<uint32_t>(at), len = get<uint32_t>(at + 4);
    if (off == podspan::kNoSpan) {
      if (line_.compare(v, 4, "null") != 0) fail(std::string(key) + ": no span but not null");
      return;
    }
    if (off != line_off_ + v) return fail(std::string(key) + ": span does not start at the value");
    if (len < 2 || v + len >= line_.size() || line_[v] != '"' || line_[v + len - 1] != '"' ||
        (line_[v + len] != ',' && line_[v + len] != '}'))
      fail(std::string(key) + ": span is not the whole string");
  }

  // A number as the line prints it (`text`), or null when `is_null`.
  void number(const char* key, bool is_null, const std::string& text) {
    const size_t v = value_start(key);
    if (v == std::string::npos) return;
    const std::string want = is_null ? "null" : text;
    if (line_.compare(v, want.size(), want) != 0 || (line_[v + want.size()] != ',' && line_[v + want.size()] != '}'))
      fail(std::string(key) + ": line has " + line_.substr(v, want.size() + 2) + ", row " + want);
  }
  void integer(const char* key, int64_t v) { number(key, v < 0, std::to_string(v)); }
  // A count as JSON.parse reads the line's digits (the row's double is rounded the same way).
  void count(const char* key, double v) { same_double(key, v); }
  // Microseconds (-1: null): JavaScript's us / 1000 must be the double JSON.parse reads.
  void us(const char* key, double us) {
    if (us < 0) return number(key, true, "");
    same_double(key, us / 1000);
  }

 private:
  // Where the member's value starts in line_: after `{"key":` or `,"key":` (neither can occur
  // inside a JSON string, whose quotes are all escaped).
  size_t value_start(const char* key) {
    if (line_.empty()) return fail("no line"), std::string::npos;
    for (const char* lead : {"{\"", ",\""}) {
      const std::string k = std::string(lead) + key + "\":";
      const size_t at = line_.find(k);
      if (at != std::string::npos) return at + k.size();
    }
    fail(std::string("no member ") + key);
    return std::string::npos;
  }
  void same_double(const char* key, double want) {
    const size_t v = value_start(key);
    if (v == std::string::npos) return;
    char* end = nullptr;
    const double got = std::strtod(line_.c_str() + v, &end);
    if (end == line_.c_str() + v || got != want || (*end != ',' && *end != '}'))
      fail(std::string(key) + ": line has " + line_.substr(v, 24) + ", row " + std::to_string(want));
  }
  void fail(const std::string& what) {
    if (why_.empty()) why_ = what;
  }

  const std::string& out_;
  const uint8_t* row_;
  std::string line_;
  size_t line_off_ = 0;
  std::string why_;
};

// The text at a row's span, "<null>" for none.
inline std::string span_text_at(const std::string& out, const uint8_t* row, size_t at) {
  uint32_t off, len;
  std::memcpy(&off, row + at, 4);
  std::memcpy(&len, row + at + 4, 4);
  if (off == podspan::kNoSpan) return "<null>";
  if (off > out.size() || len > out.size() - off) return "<out of range>";
  return out.substr(off, len);
}

// The kRowSame* bits against the row before (`prev`; nullptr for a batch's first row, where no
// bit may be set): each set exactly when the two rows' texts there are equal.
inline std::string check_same_bits(const std::string& out, const uint8_t* row, const uint8_t* prev) {
  const uint8_t kind = row[0] & podspan::kRowKindMask;
  struct Slot {
    size_t at;
    uint8_t bit;
    const char* name;
  };
  const Slot slots[] = {{16, podspan::kRowSameServer, "server"}, {24, podspan::kRowSameClient, "client"},
                        {32, podspan::kRowSameA, "a"}, {40, podspan::kRowSameB, "b"}};
  for (const Slot& s : slots) {
    const bool has_slot = kind != podspan::kRowFlow || s.at < 32;  // a flow row has numbers there
    const bool want = has_slot && prev && span_text_at(out, prev, s.at) == span_text_at(out, row, s.at);
    if (((row[0] & s.bit) != 0) != want) return std::string("same-as-before bit of ") + s.name + (want ? " not set" : " set");
  }
  return "";
}

// The row's head and kind-specific fields against the line (record_rows.h's layout), and its
// same-as-before bits against `prev`, the row before it in its batch (nullptr: the first).
inline std::string check_row(const std::string& out, const uint8_t* row, const uint8_t* prev = nullptr) {
  const std::string same = check_same_bits(out, row, prev);
  if (!same.empty()) return same;
  RowCheck c(out, row);
  const uint8_t kind = c.get<uint8_t>(0) & podspan::kRowKindMask;
  c.line(kind);
  c.span(16, "server");
  c.span(24, "client");
  c.integer("server_port", c.get<uint16_t>(2));
  switch (kind) {
    case podspan::kRowFlow:
      c.number("state", false, std::string("\"") + podspan::conn_state_name(static_cast<podspan::ConnState>(c.get<uint16_t>(6))) + "\"");
      c.count("client_packets", c.get<double>(32));
      c.count("server_packets", c.get<double>(40));
      c.count("client_bytes", c.get<double>(48));
      c.count("server_bytes", c.get<double>(56));
      c.count("retransmitted_packets", c.get<double>(64));
      c.us("handshake_rtt_ms", c.get<double>(72));
      c.us("duration_ms", c.get<double>(80));
      c.span(88, "ts");
      c.integer("client_port", c.get<uint16_t>(96));
      break;
    case podspan::kRowHttp:
      c.span(32, "method");
      c.span(40, "route");
      c.integer("status", c.get<int32_t>(48));
      c.integer("grpc_status", c.get<int32_t>(52));
      c.us("latency_ms", c.get<double>(56));
      c.us("duration_ms", c.get<double>(64));
      c.count("request_bytes", c.get<double>(72));
      c.count("response_bytes", c.get<double>(80));
      break;
    case podspan::kRowDns:
      c.span(32, "query");
      c.integer("qtype", c.get<uint16_t>(6));
      c.span(40, "qtype_name");
      c.span(48, "rcode_name");
      c.integer("rcode", c.get<int32_t>(56));
      c.integer("answers", c.get<uint16_t>(60));
      c.us("latency_ms", c.get<double>(64));
      break;
    default:
      return "unknown kind";
  }
  return c.why();
}

}  // namespace podspan_test
