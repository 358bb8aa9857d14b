// The per-datagram header of each UDP mirror encapsulation, written in front of the inner
// Ethernet frame. The sender (udp_encap_sender) owns sockets, batching, truncation and the MTU
// policy; this module owns only the bytes that differ between encapsulations.
//   VXLAN (RFC 7348): 8 bytes, I flag, 24-bit VNI.
//   GENEVE (RFC 8926): 8 bytes, protocol type 0x6558 (Ethernet), 24-bit VNI; with `podspan_option`
//   one 12-byte TLV follows: class 0xFF50 (IANA's Experimental Use range; not registered),
//   type 0x01 (critical bit clear: receivers that do not know it skip it), length 2 words,
//   data = session id (32 bits) then capture interface index (32 bits), both big-endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace podspan {

enum class Encapsulation : uint8_t { kVxlan, kGeneve };

constexpr uint16_t kGenevePodspanClass = 0xFF50;
constexpr uint8_t kGenevePodspanType = 0x01;

struct EncapHeader {
  Encapsulation kind = Encapsulation::kVxlan;
  uint32_t vni = 0;             // 24 bits
  bool podspan_option = false;  // GENEVE only: the session/interface TLV
  uint32_t session = 0;         // carried in that TLV

  size_t size() const;                              // bytes before the inner frame
  void write(uint8_t* out, uint32_t iface) const;   // size() bytes; iface: the capture's interface index
  const char* scheme() const;                       // "vxlan" or "geneve", for messages and summaries
};

}  // namespace podspan
