// libFuzzer target: records whose strings and numbers come from the input (as paths, hosts and
// DNS names come from the network) must serialise to lines that are each one valid JSON object
// in valid UTF-8. The validator below is a strict RFC 8259 recogniser, small on purpose.
#include <cstddef>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>

#include "analysis/json_records.h"

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  uint64_t num() {
    uint64_t v = 0;
    const size_t k = n < 8 ? n : 8;
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
  std::string str() {
    const size_t len = n ? p[0] % 64 : 0;
    if (n) ++p, --n;
    const size_t k = len < n ? len : n;
    std::string s(reinterpret_cast<const char*>(p), k);
    p += k;
    n -= k;
    return s;
  }
};

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

void check_lines(const std::string& out, size_t expected_lines) {
  size_t lines = 0, start = 0;
  while (start < out.size()) {
    const size_t nl = out.find('\n', start);
    if (nl == std::string::npos) __builtin_trap();  // every line ends in '\n'
    Json j{out.data() + start, out.data() + nl};
    if (*j.p != '{' || !j.value(0)) __builtin_trap();
    j.ws();
    if (j.p != j.end) __builtin_trap();
    ++lines;
    start = nl + 1;
  }
  if (lines != expected_lines) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  Input in{data, size};
  std::string out;
  FlowRecord f;
  f.uid = in.num();
  f.ends.ip_version = (in.num() & 1) ? 6 : 4;
  std::memcpy(f.ends.client, data, size < 16 ? size : 16);
  f.ends.vlan = static_cast<uint16_t>(in.num());
  f.ts = in.num();
  f.duration = in.num();
  f.handshake_rtt = in.num();
  f.client_rtt = kUnknownNs;
  f.state = static_cast<ConnState>(in.num() % 7);
  f.close_reason = in.str();
  f.app = in.str();
  append_json(out, f);
  HttpRecord h;
  h.uid = in.num();
  h.ts = in.num();
  h.version = in.str();
  h.method = in.str();
  h.host = in.str();
  h.path = in.str();
  h.route = in.str();
  h.status = static_cast<int>(in.num());
  h.grpc_status = static_cast<int>(in.num());
  h.latency = in.num();
  h.note = in.str();
  append_json(out, h);
  DnsRecord d;
  d.proto = in.str();
  d.query = in.str();
  d.qtype = static_cast<uint16_t>(in.num());
  d.rcode = static_cast<int>(in.num());
  d.latency = in.num();
  append_json(out, d);
  check_lines(out, 3);
  return 0;
}
