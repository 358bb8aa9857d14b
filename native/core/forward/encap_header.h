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
//   ERSPAN (draft-foschiano-erspan), over GRE with the sequence number (S flag) always:
//   type II: GRE protocol 0x88BE, 8 bytes: version 1, VLAN 0, COS 0, En 0, T 0, the 10-bit
//   session id, then the 20-bit index (the capture interface's index);
//   type III: GRE protocol 0x22EB, 12 bytes: version 2, VLAN 0, COS 0, BSO 0, T 0, session id,
//   a 32-bit timestamp of the capture time in units of 100 µs (granularity 00, as the kernel's
//   erspan device writes it), SGT 0, P 1 (an Ethernet frame), FT 0, the 6-bit hardware id, the
//   direction bit D (1: the frame left the capture interface, where that is known) and O 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace podspan {

enum class Encapsulation : uint8_t { kVxlan, kGeneve, kGre, kErspan2, kErspan3 };

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
  uint16_t erspan_session = 0;  // ERSPAN: 10 bits
  uint8_t erspan_hwid = 0;      // ERSPAN III: 6 bits

  size_t size() const;  // bytes before the inner frame
  // size() bytes; iface: the capture's interface index; seq: the packet's GRE sequence number;
  // ts_ns and egress: the packet's capture time and direction (ERSPAN III).
  void write(uint8_t* out, uint32_t iface, uint32_t seq, uint64_t ts_ns = 0, bool egress = false) const;
  const char* scheme() const;  // "vxlan", "geneve", "gre" or "erspan", for messages and summaries
  bool over_udp() const { return kind == Encapsulation::kVxlan || kind == Encapsulation::kGeneve; }
  bool erspan() const { return kind == Encapsulation::kErspan2 || kind == Encapsulation::kErspan3; }
};

}  // namespace podspan
