// Raw IPv4 frames (LINKTYPE_RAW) for tests that feed whole frames: addresses 10.0.0.<n>, a
// 20-byte TCP header, no checksums (nothing here checks them), and the layers to wrap them
// (IPv4 fragments, UDP, VXLAN, Ethernet).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace podspan_test {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

inline Bytes tcp_segment(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, const std::string& payload) {
  Bytes t(20, 0);
  put16(t, 0, sport);
  put16(t, 2, dport);
  put16(t, 4, static_cast<uint16_t>(seq >> 16));
  put16(t, 6, static_cast<uint16_t>(seq));
  t[12] = 5 << 4;
  t[13] = flags;
  t.insert(t.end(), payload.begin(), payload.end());
  return t;
}

// An IPv4 packet carrying `payload` (or, with a fragment offset or more-fragments, a fragment
// of a datagram with this id: offset in bytes, a multiple of 8).
inline Bytes ipv4(uint8_t src, uint8_t dst, uint8_t proto, const Bytes& payload, uint16_t id = 0,
                  uint16_t frag_offset = 0, bool more_fragments = false) {
  Bytes p(20, 0);
  p[0] = 0x45;
  put16(p, 2, static_cast<uint16_t>(20 + payload.size()));
  put16(p, 4, id);
  put16(p, 6, static_cast<uint16_t>((more_fragments ? 0x2000 : 0) | (frag_offset / 8)));
  p[8] = 64;
  p[9] = proto;
  const uint8_t s[4] = {10, 0, 0, src}, d[4] = {10, 0, 0, dst};
  std::memcpy(&p[12], s, 4);
  std::memcpy(&p[16], d, 4);
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline Bytes raw_tcp_frame(uint8_t src, uint16_t sport, uint8_t dst, uint16_t dport, uint32_t seq, uint8_t flags,
                           const std::string& payload) {
  return ipv4(src, dst, 6, tcp_segment(sport, dport, seq, flags, payload));
}

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes u(8, 0);
  put16(u, 0, sport);
  put16(u, 2, dport);
  put16(u, 4, static_cast<uint16_t>(8 + payload.size()));
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

inline Bytes ethernet_ipv4(const Bytes& ip) {
  Bytes e = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
  e.insert(e.end(), ip.begin(), ip.end());
  return e;
}

// VXLAN (UDP port 4789) from 10.0.0.<src> to 10.0.0.<dst> carrying an Ethernet frame.
inline Bytes vxlan(uint8_t src, uint8_t dst, uint32_t vni, const Bytes& inner_ethernet) {
  Bytes v = {0x08, 0, 0, 0, static_cast<uint8_t>(vni >> 16), static_cast<uint8_t>(vni >> 8), static_cast<uint8_t>(vni), 0};
  v.insert(v.end(), inner_ethernet.begin(), inner_ethernet.end());
  return ipv4(src, dst, 17, udp(40000, 4789, v));
}

}  // namespace podspan_test

namespace podspan_test {

// A TCP segment with its ack number and window, in an IPv4 packet from 10.0.0.<src> to 10.0.0.<dst>.
inline Bytes raw_tcp_frame_acked(uint8_t src, uint16_t sport, uint8_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
                                 uint8_t flags, uint16_t window, const std::string& payload) {
  Bytes t = tcp_segment(sport, dport, seq, flags, payload);
  put16(t, 8, static_cast<uint16_t>(ack >> 16));
  put16(t, 10, static_cast<uint16_t>(ack));
  put16(t, 14, window);
  return ipv4(src, dst, 6, t);
}

}  // namespace podspan_test
