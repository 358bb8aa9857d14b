// Contract 1's rows: how the shadow extractor lays out each open, exchange, turn, skip and close
// in a batch's `meta` for JavaScript (src/shadow/exchange-rows.ts reads them). Binary rather than
// JSON lines: parsing a line there cost more than everything else about an exchange's arrival.
//
// A row: u32 its length in bytes (this field included), u8 its ExchangeRowKind, f64 the connection id,
// then the kind's fields in a fixed order (written out in extractor.cc and in rows_to_json).
// All little-endian. Numbers are f64; times are ms rounded to the µs, NaN when unknown; strings
// are u32 n and n bytes as they were (JavaScript reads them latin1, a character per byte);
// headers are u32 count and that many name, value string pairs; a slice is u32 off, u32 len into
// the batch's `data`, whose bytes the writer appends; a flag is a u8 0 or 1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shadow/exchange_queue.h"

namespace podspan {

enum class ExchangeRowKind : uint8_t { kOpen = 1, kHttp = 2, kH2 = 3, kTurn = 4, kSkip = 5, kClose = 6 };

// u32 length, u8 kind, f64 connection.
constexpr size_t kExchangeRowHeadBytes = 13;

// Writes one row into a batch: the constructor starts it, end() closes it (its length). Fields go
// in the order the kind's layout gives; nothing checks that order here (the reader does).
class ExchangeRowWriter {
 public:
  ExchangeRowWriter(ExchangeBatch& b, ExchangeRowKind kind, uint64_t conn);
  ExchangeRowWriter& num(double v);
  ExchangeRowWriter& ms(uint64_t ns);  // kUnknownNs: NaN
  ExchangeRowWriter& str(std::string_view s);
  ExchangeRowWriter& flag(bool v);
  ExchangeRowWriter& u32(uint32_t v);
  ExchangeRowWriter& slice(const char* p, size_t n);  // the bytes go to the batch's data
  void end();

 private:
  ExchangeBatch& b_;
  size_t start_;
};

using ExchangeRowHeaders = std::vector<std::pair<std::string_view, std::string_view>>;

// What a replay of an http row's request needs, as views into the row.
struct ExchangeRowRequest {
  std::string_view method, target, host;
  ExchangeRowHeaders headers;
  uint32_t body_len = 0;  // the body's bytes in the batch's data (its slice's length)
};

// Production's answer in an http row, as views into the row, for comparing a replayed answer
// with it (replay/same_answer.h).
struct ExchangeRowResponse {
  bool present = false;  // false: the row has a note (no response) instead
  double status = 0;
  ExchangeRowHeaders headers;
  uint32_t body_len = 0;  // kept bytes (its slice's length)
  double body_length = 0; // the whole body's length
  bool body_truncated = false;
};

// Reads the request part of one http row (the whole row, its length first), and production's
// answer when `resp` is given; false when `row` is not an http row or is cut short. Header
// lists are cleared first (their capacity is reused).
bool read_http_row(std::string_view row, ExchangeRowRequest& out, ExchangeRowResponse* resp);
inline bool read_http_request_row(std::string_view row, ExchangeRowRequest& out) { return read_http_row(row, out, nullptr); }

// Every row of `meta` as the JSON line the extractor wrote before rows ({"t":"http","conn":"1",
// ...}, slices as [off, len]), for tests and the fuzz target. False, with `error` naming the row
// and what is wrong, when a row does not follow its layout or a slice lies outside `data_bytes`.
bool rows_to_json(std::string_view meta, size_t data_bytes, std::string& out, std::string* error);

}  // namespace podspan
