// libFuzzer target: parse_dns on arbitrary bytes (names bounded, never reading past the end),
// and DnsTcpFramer on the same bytes whole and cut into chunks: the same messages either way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocols/dns.h"

namespace {

struct Collect : podspan::DnsTcpFramer::Events {
  std::vector<std::string> messages;
  void on_dns_message(const uint8_t* d, size_t n, uint64_t start, uint64_t end, uint64_t, uint64_t) override {
    if (end != start + 2 + n) __builtin_trap();
    messages.emplace_back(reinterpret_cast<const char*>(d), n);
    messages.back() += std::to_string(start);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  podspan::DnsMessage m;
  const podspan::DnsParse r = podspan::parse_dns(data, size, m);
  // 255 wire bytes at most, each written as at most 4 characters (\DDD).
  if (m.qname.size() > 4 * 255) __builtin_trap();
  if (r != podspan::DnsParse::kOk && !m.qname.empty()) __builtin_trap();
  Collect whole, cut;
  podspan::DnsTcpFramer a(whole), b(cut);
  a.feed(0, data, size, 0);
  uint32_t lcg = size;
  for (size_t at = 0; at < size;) {
    lcg = lcg * 1103515245u + 12345u;
    const size_t n = std::min<size_t>(size - at, 1 + (lcg >> 16) % 7);
    b.feed(at, data + at, n, 0);
    at += n;
  }
  if (whole.messages != cut.messages) __builtin_trap();
  return 0;
}
