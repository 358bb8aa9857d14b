// Case-insensitive matching of protocol tokens (HTTP header names, Upgrade and Content-Type
// values) against lowercase constants. Tokens are ASCII: comparing bytes this way needs no
// locale, where strncasecmp consults one per call (~5% of analytics on request-dense HTTP).
#pragma once

#include <string_view>

namespace podspan {

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` equals `lower` (a lowercase constant) but for the case of ASCII letters.
inline bool equals_nocase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (ascii_lower(s[i]) != lower[i]) return false;
  }
  return true;
}

// `s` begins with `lower` (a lowercase constant) but for the case of ASCII letters.
inline bool starts_with_nocase(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && equals_nocase(s.substr(0, lower.size()), lower);
}

}  // namespace podspan
