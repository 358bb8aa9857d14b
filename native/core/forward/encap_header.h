// The per-datagram header of each UDP mirror encapsulation, written in front of the inner
// Ethernet frame. The sender (encap_sender) owns sockets, batching, truncation and the MTU
// policy; this module owns only the bytes that differ between encapsulations.
//   VXLAN (RFC 7348): 8 bytes, I flag, 24-bit VNI.
//   GENEVE (RFC 8926): 8 bytes, protocol type 0x6558 (Ethernet), 24-bit VNI; with `podspan_option`
//   one 12-byte TLV follows: class 0xFF50 (IANA's Experimental Use range; not registered),
//   type 0x01 (critical bit clear: receivers that do not know it skip it), length 2 words,
//   data = session id (32 bits) then capture interface index (32 bits), both big-endian.
//   GRE (RFC 2784/2890), straight over IP (protocol 47): 4 bytes, no checksum, protocol type
//   0x6558 (transparent Ethernet bridging); then the key (K flag) and the sequence number (S
//   flag), 4 bytes each, when asked for.
#pragma once

#include <cstddef>
#include <cstdint>

namespace podspan {

enum class Encapsulation : uint8_t { kVxlan, kGeneve, kGre };

constexpr uint16_t kGenevePodspanClass = 0xFF50;
constexpr uint8_t kGenevePodspanType = 0x01;

struct EncapHeader {
  Encapsulation kind = Encapsulation::kVxlan;
  uint32_t vni = 0;             // 24 bits
  bool podspan_option = false;  // GENEVE only: the session/interface TLV
  uint32_t session = 0;         // carried in that TLV
  bool gre_key = false;         // GRE only: the K flag and `key`
  uint32_t key = 0;
  bool gre_sequence = false;    // GRE only: the S flag and a sequence number per packet

  size_t size() const;  // bytes before the inner frame
  // size() bytes; iface: the capture's interface index; seq: the packet's GRE sequence number.
  void write(uint8_t* out, uint32_t iface, uint32_t seq) const;
  const char* scheme() const;  // "vxlan", "geneve" or "gre", for messages and summaries
  bool over_udp() const { return kind != Encapsulation::kGre; }
};

}  // namespace podspan
