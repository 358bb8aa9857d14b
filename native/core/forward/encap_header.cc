#include "forward/encap_header.h"

namespace podspan {
namespace {

constexpr size_t kBaseHeader = 8, kPodspanOption = 12, kGreBase = 4;

void put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  put24(p + 1, v);
}

}  // namespace

size_t EncapHeader::size() const {
  if (kind == Encapsulation::kGre) return kGreBase + (gre_key ? 4 : 0) + (gre_sequence ? 4 : 0);
  return kBaseHeader + (kind == Encapsulation::kGeneve && podspan_option ? kPodspanOption : 0);
}

const char* EncapHeader::scheme() const {
  return kind == Encapsulation::kGeneve ? "geneve" : kind == Encapsulation::kGre ? "gre" : "vxlan";
}

void EncapHeader::write(uint8_t* out, uint32_t iface, uint32_t seq) const {
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
