// A strict RFC 8259 recogniser for JSON lines, small on purpose: the json_records and detector
// fuzz targets and the tests that check records serialise to valid JSON share it.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace podspan_test {

// A strict JSON recogniser over [p, end): true when it holds exactly one value.
struct Json {
  const char* p;
  const char* end;
  void ws() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }
  bool lit(const char* s) {
    const size_t n = std::strlen(s);
    if (static_cast<size_t>(end - p) < n || std::memcmp(p, s, n) != 0) return false;
    p += n;
    return true;
  }
  bool utf8() {  // one valid UTF-8 sequence of 2-4 bytes
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    const size_t left = static_cast<size_t>(end - p);
    size_t len;
    uint32_t cp, min;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) len = 2, cp = u[0] & 0x1f, min = 0x80;
    else if (u[0] >= 0xe0 && u[0] <= 0xef) len = 3, cp = u[0] & 0x0f, min = 0x800;
    else if (u[0] >= 0xf0 && u[0] <= 0xf4) len = 4, cp = u[0] & 0x07, min = 0x10000;
    else return false;
    if (len > left) return false;
    for (size_t i = 1; i < len; ++i) {
      if ((u[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (u[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += len;
    return true;
  }
  bool string() {
    if (p >= end || *p != '"') return false;
    ++p;
    while (p < end) {
      const unsigned char c = static_cast<unsigned char>(*p);
      if (c == '"') {
        ++p;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++p >= end) return false;
        if (*p == 'u') {
          if (end - p < 5) return false;
          for (int i = 1; i <= 4; ++i)
            if (!std::isxdigit(static_cast<unsigned char>(p[i]))) return false;
          p += 5;
        } else if (std::strchr("\"\\/bfnrt", *p) && *p) {
          ++p;
        } else {
          return false;
        }
      } else if (c < 0x80) {
        ++p;
      } else if (!utf8()) {
        return false;
      }
    }
    return false;
  }
  bool number() {
    const char* s = p;
    if (p < end && *p == '-') ++p;
    if (p >= end || !std::isdigit(static_cast<unsigned char>(*p))) return false;
    if (*p == '0') ++p;
    else while (p < end && std::isdigit(static_cast<unsigned char>(*p))) ++p;
    if (p < end && *p == '.') {
      ++p;
      if (p >= end || !std::isdigit(static_cast<unsigned char>(*p))) return false;
      while (p < end && std::isdigit(static_cast<unsigned char>(*p))) ++p;
    }
    return p > s;
  }
  bool value(int depth) {
    ws();
    if (p >= end || depth > 8) return false;
    if (*p == '"') return string();
    if (*p == '{') {
      ++p;
      ws();
      if (p < end && *p == '}') return ++p, true;
      for (;;) {
        ws();
        if (!string()) return false;
        ws();
        if (p >= end || *p++ != ':') return false;
        if (!value(depth + 1)) return false;
        ws();
        if (p < end && *p == ',') { ++p; continue; }
        if (p < end && *p == '}') return ++p, true;
        return false;
      }
    }
    if (lit("null") || lit("true") || lit("false")) return true;
    return number();
  }
};

// True when every line of `out` ends in '\n' and holds exactly one JSON object; `lines` gets
// how many there are.
inline bool strict_json_lines(const std::string& out, size_t& lines) {
  lines = 0;
  size_t start = 0;
  while (start < out.size()) {
    const size_t nl = out.find('\n', start);
    if (nl == std::string::npos) return false;
    Json j{out.data() + start, out.data() + nl};
    if (j.p == j.end || *j.p != '{' || !j.value(0)) return false;
    j.ws();
    if (j.p != j.end) return false;
    ++lines;
    start = nl + 1;
  }
  return true;
}

}  // namespace podspan_test
