#include "replay/same_answer.h"

#include "protocols/ascii_case.h"

namespace podspan {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// ASCII white space only: JavaScript's trim takes off more (no-break space, ...), so two values
// equal trimmed here are equal trimmed there too.
std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view cookie_name(std::string_view value) {
  const size_t eq = value.find('=');
  return trimmed(eq == std::string_view::npos ? value : value.substr(0, eq));
}

}  // namespace

bool same_header_value(std::string_view lower_name, std::string_view a, std::string_view b) {
  if (a == b) return true;
  a = trimmed(a);
  b = trimmed(b);
  if (lower_name == "set-cookie") return cookie_name(a) == cookie_name(b);
  return a == b;
}

SameAnswerCheck::Kind SameAnswerCheck::kind_of(std::string_view name, std::string& lower) const {
  lower.assign(name);
  for (char& c : lower) {
    // compare.ts lower-cases with JavaScript's toLowerCase: outside ASCII the two may disagree.
    if (static_cast<unsigned char>(c) >= 0x80) return Kind::kUndecided;
    c = ascii_lower(c);
  }
  // gRPC's status fields are compared apart from the headers (compare.ts): its way, not here.
  if (lower == "grpc-status" || lower == "grpc-message" || lower == "grpc-status-details-bin") return Kind::kUndecided;
  if (!lower.empty() && lower[0] == ':') return Kind::kNotCompared;
  return rules_.ignored.count(lower) ? Kind::kNotCompared : Kind::kCompared;
}

bool SameAnswerCheck::same(const ExchangeRowResponse& production, std::string_view production_body,
                           const ResponseReader::Answer& candidate) {
  const Http1Content& c = candidate.content;
  if (!production.present || production.status != candidate.status) return false;
  if (production.body_truncated || c.body_truncated || c.headers_truncated) return false;
  if (production.body_length != static_cast<double>(candidate.body_bytes) || production_body != c.body) return false;
  size_t j = 0;
  const size_t n = c.headers.size();
  for (const auto& [name, value] : production.headers) {
    const Kind k = kind_of(name, production_name_);
    if (k == Kind::kUndecided) return false;
    if (k == Kind::kNotCompared) continue;
    // The candidate's next compared header must be the same one.
    for (;; ++j) {
      if (j == n) return false;
      const Kind ck = kind_of(c.name(c.headers[j]), candidate_name_);
      if (ck == Kind::kUndecided) return false;
      if (ck == Kind::kCompared) break;
    }
    if (candidate_name_ != production_name_ || !same_header_value(production_name_, value, c.value(c.headers[j]))) return false;
    ++j;
  }
  for (; j < n; ++j) {
    if (kind_of(c.name(c.headers[j]), candidate_name_) != Kind::kNotCompared) return false;
  }
  return true;
}

}  // namespace podspan
