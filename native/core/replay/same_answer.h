// Whether a replayed HTTP/1 answer is the same as production's under the shadow comparison's
// rules (src/shadow/compare.ts), decided on the transport's thread: for the common case, an
// answer with nothing to report, JavaScript then gets neither answer's headers nor body.
//
// Conservative by design: true only where compare.ts surely finds no difference. The same
// status; the compared headers (not pseudo-headers, not ignored names) the same names in the same
// order with values equal as compare.ts compares them (trimmed; Set-Cookie by its cookie name);
// the same body bytes, neither side truncated. Anything else (other orders, gRPC status fields,
// names outside ASCII, truncation) is false, and JavaScript compares the whole answers as before.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "replay/response_reader.h"
#include "shadow/exchange_rows.h"

namespace podspan {

struct SameAnswerRules {
  std::unordered_set<std::string> ignored;  // lower-case header names not compared
};

class SameAnswerCheck {
 public:
  explicit SameAnswerCheck(SameAnswerRules rules) : rules_(std::move(rules)) {}

  // `production_body`: production's kept body bytes (production.body_len of them).
  bool same(const ExchangeRowResponse& production, std::string_view production_body, const ResponseReader::Answer& candidate);

 private:
  enum class Kind : uint8_t { kNotCompared, kCompared, kUndecided };
  // Leaves the lower-case name in lower_ when compared.
  Kind kind_of(std::string_view name, std::string& lower) const;

  SameAnswerRules rules_;
  std::string production_name_, candidate_name_;  // scratch, reused
};

// compare.ts's fieldValue without the masks: equal here means equal after any mask too.
bool same_header_value(std::string_view lower_name, std::string_view a, std::string_view b);

}  // namespace podspan
