// libFuzzer target: Http1Parser on arbitrary bytes, once whole and once cut into chunks the
// input chooses. Both runs must report the same messages (fields, offsets, times aside), and
// every message must lie inside what was fed, after the one before it. With content capture on
// (an input bit), the headers and body kept must be the same too, the body capped as asked.
// Without it, a third run with host_and_upgrade_only (analytics' lean parsing) must report the
// same messages as well (a response's host aside, which the lean parser does not read).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocols/http1.h"

namespace {

constexpr size_t kMaxBody = 64;

struct Seen : podspan::Http1Parser::Events {
  bool capture = false;
  uint8_t rules;  // bit i: the response with index i%8 answers HEAD (or CONNECT with bit 7)
  size_t heads = 0;
  std::vector<std::string> messages;
  uint64_t fed = 0;
  uint64_t last_end = 0;
  podspan::Http1Parser::Body on_head(const podspan::Http1Message& m) override {
    if (m.head_end <= m.start || m.head_end > fed) __builtin_trap();
    const bool head = (rules >> (heads++ % 7)) & 1;
    if (m.request || !head) return podspan::Http1Parser::Body::kAsHeadersSay;
    return (rules & 0x80) ? podspan::Http1Parser::Body::kSwitch : podspan::Http1Parser::Body::kNone;
  }
  void on_message(const podspan::Http1Message& m) override {
    if (m.start < last_end || m.head_end < m.start || m.end < m.head_end || m.end > fed) __builtin_trap();
    if (!m.chunked && m.body_bytes > m.end - m.head_end) __builtin_trap();
    const size_t max_target = capture ? podspan::Http1Parser::kMaxHeaderBytes : podspan::Http1Parser::kMaxTarget;
    if (m.target.size() > max_target || m.host.size() > podspan::Http1Parser::kMaxHeader) __builtin_trap();
    const podspan::Http1Content& c = m.content;
    if (m.content.body.size() != (capture ? std::min<uint64_t>(m.body_bytes, kMaxBody) : 0)) __builtin_trap();
    if (c.body_truncated != (capture && m.body_bytes > kMaxBody)) __builtin_trap();
    if (c.header_bytes.size() > podspan::Http1Parser::kMaxHeaderBytes) __builtin_trap();
    std::string content;
    for (const podspan::Http1HeaderSpan& h : c.headers) {
      if (uint64_t{h.name_off} + h.name_len > c.header_bytes.size() || uint64_t{h.value_off} + h.value_len > c.header_bytes.size()) {
        __builtin_trap();
      }
      content.append(c.name(h)).append(": ").append(c.value(h)).append("\n");
    }
    content += c.body;
    last_end = m.end;
    messages.push_back(std::to_string(m.start) + " " + std::to_string(m.head_end) + " " + std::to_string(m.end) + " " + m.method +
                       " " + std::to_string(m.status) + " " + m.target + " " + (m.request ? m.host : "") + " " + std::to_string(m.body_bytes) +
                       (m.ended_by_close ? " close" : "") + " " + content);
  }
};

void run(const uint8_t* data, size_t size, bool requests, uint8_t rules, uint8_t seed, Seen& seen,
         podspan::Http1Parser::State& state, bool lean = false) {
  seen.rules = rules;
  podspan::Http1Parser p(requests, seen);
  p.capture_content(seen.capture, kMaxBody);
  p.host_and_upgrade_only(lean);
  size_t at = 0;
  uint32_t lcg = seed;
  while (at < size) {
    size_t n = size - at;
    if (seed != 0) {
      lcg = lcg * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (lcg >> 16) % 64);
    }
    seen.fed = at + n;
    p.feed(at, data + at, n, at);
    at += n;
  }
  if (p.state() == podspan::Http1Parser::State::kUpgraded && (rules & 0x40)) {
    p.resume_after_upgrade();
  }
  p.close(size);
  state = p.state();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool requests = data[0] & 1;
  const uint8_t rules = data[0];
  const uint8_t seed = data[1] | 1;
  Seen whole, cut;
  whole.capture = cut.capture = (data[1] & 2) != 0;
  podspan::Http1Parser::State a, b;
  run(data + 2, size - 2, requests, rules, 0, whole, a);
  run(data + 2, size - 2, requests, rules, seed, cut, b);
  if (whole.messages != cut.messages || a != b) __builtin_trap();
  if (!whole.capture) {
    Seen lean;
    podspan::Http1Parser::State c;
    run(data + 2, size - 2, requests, rules, seed, lean, c, true);
    if (lean.messages != whole.messages || c != a) __builtin_trap();
  }
  return 0;
}
