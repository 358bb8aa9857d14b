#include "forward/encap_header.h"

namespace podspan {
namespace {

constexpr size_t kBaseHeader = 8, kPodspanOption = 12, kGreBase = 4, kErspan2 = 8, kErspan3 = 12;

void put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  put24(p + 1, v);
}

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

size_t EncapHeader::size() const {
  if (kind == Encapsulation::kGre) return kGreBase + (gre_key ? 4 : 0) + (gre_sequence ? 4 : 0);
  if (kind == Encapsulation::kErspan2) return kGreBase + 4 + kErspan2;
  if (kind == Encapsulation::kErspan3) return kGreBase + 4 + kErspan3;
  return kBaseHeader + (kind == Encapsulation::kGeneve && podspan_option ? kPodspanOption : 0);
}

const char* EncapHeader::scheme() const {
  return kind == Encapsulation::kGeneve ? "geneve" : kind == Encapsulation::kGre ? "gre" : erspan() ? "erspan" : "vxlan";
}

void EncapHeader::write(uint8_t* out, uint32_t iface, uint32_t seq, uint64_t ts_ns, bool egress) const {
  if (erspan()) {
    out[0] = 0x10;  // GRE: S flag (sequence number present), version 0
    out[1] = 0;
    put16(out + 2, kind == Encapsulation::kErspan2 ? 0x88BE : 0x22EB);
    put32(out + 4, seq);
    uint8_t* e = out + kGreBase + 4;
    const uint16_t session = erspan_session & 0x3FF;
    if (kind == Encapsulation::kErspan2) {
      put16(e, 1u << 12);  // version 1, VLAN 0
      put16(e + 2, session);  // COS 0, En 0, T 0
      put32(e + 4, iface & 0xFFFFF);  // reserved 0, index
      return;
    }
    put16(e, 2u << 12);  // version 2, VLAN 0
    put16(e + 2, session);  // COS 0, BSO 0, T 0
    put32(e + 4, static_cast<uint32_t>(ts_ns / 100'000));  // 100 µs units (granularity 00)
    put16(e + 8, 0);  // SGT
    // P 1, FT 0 (Ethernet), hardware id, D, granularity 00, O 0
    put16(e + 10, 0x8000u | static_cast<uint32_t>(erspan_hwid & 0x3F) << 4 | (egress ? 0x8u : 0u));
    return;
  }
  if (kind == Encapsulation::kGre) {
    out[0] = static_cast<uint8_t>((gre_key ? 0x20 : 0) | (gre_sequence ? 0x10 : 0));  // C=0 K S, version 0
    out[1] = 0;
    out[2] = 0x65;  // protocol type: transparent Ethernet bridging
    out[3] = 0x58;
    uint8_t* o = out + kGreBase;
    if (gre_key) {
      put32(o, key);
      o += 4;
    }
    if (gre_sequence) put32(o, seq);
    return;
  }
  if (kind == Encapsulation::kVxlan) {
    out[0] = 0x08;  // I flag: the VNI is valid
    out[1] = out[2] = out[3] = 0;
    put24(out + 4, vni);
    out[7] = 0;
    return;
  }
  const bool opt = podspan_option;
  out[0] = opt ? kPodspanOption / 4 : 0;  // version 0, options length in 4-byte words
  out[1] = 0;                             // O (control) and C (critical options) clear
  out[2] = 0x65;                          // protocol type: transparent Ethernet bridging
  out[3] = 0x58;
  put24(out + 4, vni);
  out[7] = 0;
  if (!opt) return;
  uint8_t* o = out + kBaseHeader;
  o[0] = static_cast<uint8_t>(kGenevePodspanClass >> 8);
  o[1] = static_cast<uint8_t>(kGenevePodspanClass);
  o[2] = kGenevePodspanType;
  o[3] = (kPodspanOption - 4) / 4;  // R bits 0, length of the data in 4-byte words
  put32(o + 4, session);
  put32(o + 8, iface);
}

}  // namespace podspan
