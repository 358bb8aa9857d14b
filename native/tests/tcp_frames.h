// Raw IPv4 TCP frames (LINKTYPE_RAW) for tests that feed whole frames: 10.0.0.<src>:sport to
// 10.0.0.<dst>:dport, a 20-byte TCP header, no checksums (nothing here checks them).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace podspan_test {

inline std::vector<uint8_t> raw_tcp_frame(uint8_t src, uint16_t sport, uint8_t dst, uint16_t dport, uint32_t seq,
                                          uint8_t flags, const std::string& payload) {
  std::vector<uint8_t> f(40, 0);
  const uint16_t total = static_cast<uint16_t>(40 + payload.size());
  f[0] = 0x45; f[2] = total >> 8; f[3] = total & 0xff; f[8] = 64; f[9] = 6;
  const uint8_t s[4] = {10, 0, 0, src}, d[4] = {10, 0, 0, dst};
  std::memcpy(&f[12], s, 4);
  std::memcpy(&f[16], d, 4);
  f[20] = sport >> 8; f[21] = sport & 0xff; f[22] = dport >> 8; f[23] = dport & 0xff;
  f[24] = seq >> 24; f[25] = (seq >> 16) & 0xff; f[26] = (seq >> 8) & 0xff; f[27] = seq & 0xff;
  f[32] = 5 << 4; f[33] = flags;
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

}  // namespace podspan_test
