#include "decode/decode.h"

#include <cstring>

#include "common/packet.h"

namespace podspan {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthVlan = 0x8100, kEthQinq = 0x88a8,
                   kEthQinqOld = 0x9100, kEthMpls = 0x8847, kEthMplsMulticast = 0x8848;
constexpr int kMaxMplsLabels = 8;
constexpr int kMaxIpv6ExtHeaders = 8;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

class Decoder {
 public:
  Decoder(const uint8_t* f, uint32_t n, Decoded& d) : f_(f), n_(n), d_(d) {}

  DecodeResult link(uint16_t linktype) {
    switch (linktype) {
      case kLinktypeEthernet: return ethernet(0);
      case kLinktypeLinuxSll:
        if (n_ < 16) return DecodeResult::kTruncated;
        return ethertype(be16(f_ + 14), 16);
      case kLinktypeLinuxSll2:
        if (n_ < 20) return DecodeResult::kTruncated;
        return ethertype(be16(f_), 20);
      case kLinktypeNull: {
        if (n_ < 4) return DecodeResult::kTruncated;
        // Host byte order of the capturing machine: AF_INET is 2 either way round; the
        // AF_INET6 values differ by OS (10, 24, 28, 30), so look at the IP version nibble.
        return ip_by_version(4);
      }
      case kLinktypeRaw:
      case 12:  // LINKTYPE_RAW on some BSDs (DLT_RAW = 12)
      case 14:
        return ip_by_version(0);
      case kLinktypeIpv4: return ipv4(0);
      case kLinktypeIpv6: return ipv6(0);
      default: return DecodeResult::kUnknownLinktype;
    }
  }

 private:
  DecodeResult ethernet(uint32_t off) {
    if (n_ < off + 14) return DecodeResult::kTruncated;
    return ethertype(be16(f_ + off + 12), off + 14);
  }

  DecodeResult ethertype(uint16_t type, uint32_t off) {
    while (type == kEthVlan || type == kEthQinq || type == kEthQinqOld) {
      if (n_ < off + 4) return DecodeResult::kTruncated;
      if (d_.vlan_count < 3) d_.vlan[d_.vlan_count++] = be16(f_ + off) & 0x0fff;
      type = be16(f_ + off + 2);
      off += 4;
    }
    if (type == kEthIpv4) return ipv4(off);
    if (type == kEthIpv6) return ipv6(off);
    if (type == kEthMpls || type == kEthMplsMulticast) return mpls(off);
    return DecodeResult::kNotIp;
  }

  // An MPLS label stack: 4-byte entries down to the one with the bottom-of-stack bit. What
  // follows carries no type; IP is recognised by its version nibble (as tcpdump and Wireshark
  // guess), anything else (a pseudowire, a control word) is not IP.
  DecodeResult mpls(uint32_t off) {
    for (int i = 0; i < kMaxMplsLabels; ++i) {
      if (n_ < off + 4) return DecodeResult::kTruncated;
      const bool bottom = f_[off + 2] & 0x01;
      off += 4;
      if (bottom) {
        if (n_ < off + 1) return DecodeResult::kTruncated;
        const uint8_t v = f_[off] >> 4;
        if (v == 4) return ipv4(off);
        if (v == 6) return ipv6(off);
        return DecodeResult::kNotIp;
      }
    }
    return DecodeResult::kMalformed;  // a deeper stack than any real network uses
  }

  DecodeResult ip_by_version(uint32_t off) {
    if (n_ < off + 1) return DecodeResult::kTruncated;
    const uint8_t v = f_[off] >> 4;
    if (v == 4) return ipv4(off);
    if (v == 6) return ipv6(off);
    return DecodeResult::kMalformed;
  }

  DecodeResult ipv4(uint32_t off) {
    d_.l3_offset = off;
    if (n_ < off + 20) return DecodeResult::kTruncated;
    const uint8_t* h = f_ + off;
    if (h[0] >> 4 != 4) return DecodeResult::kMalformed;
    const uint32_t ihl = (h[0] & 0x0f) * 4u;
    uint32_t total = be16(h + 2);
    if (total == 0) total = n_ - off;  // TSO / BIG TCP: the length is not in the header
    if (ihl < 20 || total < ihl) return DecodeResult::kMalformed;
    d_.ip_version = 4;
    d_.protocol = h[9];
    d_.ttl = h[8];
    std::memcpy(d_.src, h + 12, 4);
    std::memcpy(d_.dst, h + 16, 4);
    const uint16_t frag = be16(h + 6);
    d_.more_fragments = (frag & 0x2000) != 0;
    d_.frag_offset = (frag & 0x1fffu) * 8u;
    d_.fragment = d_.more_fragments || d_.frag_offset != 0;
    d_.frag_id = be16(h + 4);
    d_.frag_data_offset = off + ihl;
    d_.frag_data_len = total - ihl;
    if (n_ < off + ihl) return DecodeResult::kTruncated;  // options cut off
    return transport(off + ihl, total - ihl);
  }

  DecodeResult ipv6(uint32_t off) {
    d_.l3_offset = off;
    if (n_ < off + 40) return DecodeResult::kTruncated;
    const uint8_t* h = f_ + off;
    if (h[0] >> 4 != 6) return DecodeResult::kMalformed;
    d_.ip_version = 6;
    d_.ttl = h[7];
    std::memcpy(d_.src, h + 8, 16);
    std::memcpy(d_.dst, h + 24, 16);
    uint8_t next = h[6];
    uint32_t remaining = be16(h + 4);  // payload length (0 with jumbograms: use what was captured)
    if (remaining == 0) remaining = n_ - (off + 40);
    off += 40;
    for (int i = 0; i < kMaxIpv6ExtHeaders; ++i) {
      switch (next) {
        case 0:    // hop-by-hop
        case 43:   // routing
        case 60:   // destination options
        case 135:  // mobility
        case 51: {  // authentication header: its length is in 4-byte units, minus 2
          if (n_ < off + 8) return DecodeResult::kTruncated;
          const uint32_t len = next == 51 ? (f_[off + 1] + 2u) * 4u : (f_[off + 1] + 1u) * 8u;
          if (len > remaining) return DecodeResult::kMalformed;
          next = f_[off];
          off += len;
          remaining -= len;
          continue;
        }
        case 44: {  // fragment
          if (n_ < off + 8) return DecodeResult::kTruncated;
          if (remaining < 8) return DecodeResult::kMalformed;
          const uint16_t fo = be16(f_ + off + 2);
          d_.frag_offset = (fo & 0xfff8u);
          d_.more_fragments = (fo & 1) != 0;
          d_.frag_id = be32(f_ + off + 4);
          d_.fragment = true;
          next = f_[off];
          d_.frag_next = next;
          off += 8;
          remaining -= 8;
          d_.frag_data_offset = off;
          d_.frag_data_len = remaining;
          if (d_.frag_offset != 0) {  // what follows is payload, not more headers
            d_.protocol = next;
            return transport(off, remaining);
          }
          continue;
        }
        default:
          break;
      }
      break;
    }
    d_.protocol = next;
    return transport(off, remaining);
  }

  // `len`: bytes of transport header + payload according to the IP header.
  DecodeResult transport(uint32_t off, uint32_t len) {
    d_.l4_offset = off;
    if (d_.fragment && d_.frag_offset != 0) {
      // A later fragment: no transport header here.
      return set_payload(off, len);
    }
    switch (d_.protocol) {
      case 6: {
        if (n_ < off + 20) return DecodeResult::kTruncated;
        const uint8_t* t = f_ + off;
        const uint32_t hl = (t[12] >> 4) * 4u;
        if (hl < 20 || hl > len) return DecodeResult::kMalformed;
        d_.sport = be16(t);
        d_.dport = be16(t + 2);
        d_.seq = be32(t + 4);
        d_.ack = be32(t + 8);
        d_.tcp_flags = t[13];
        d_.window = be16(t + 14);
        if (n_ < off + hl) return DecodeResult::kTruncated;
        return set_payload(off + hl, len - hl);
      }
      case 17: {
        if (n_ < off + 8) return DecodeResult::kTruncated;
        const uint8_t* u = f_ + off;
        if (len < 8) return DecodeResult::kMalformed;
        d_.sport = be16(u);
        d_.dport = be16(u + 2);
        if (d_.dport == 4789 || d_.sport == 4789) d_.tunnel = Tunnel::kVxlan;
        if (d_.dport == 6081) d_.tunnel = Tunnel::kGeneve;
        return set_payload(off + 8, len - 8);
      }
      case 1:
      case 58: {
        if (n_ < off + 4) return DecodeResult::kTruncated;
        d_.sport = f_[off];      // type
        d_.dport = f_[off + 1];  // code
        return set_payload(off + 4, len >= 4 ? len - 4 : 0);
      }
      case 47: {
        if (n_ < off + 4) return DecodeResult::kTruncated;
        const uint16_t proto = be16(f_ + off + 2);
        d_.tunnel = (proto == 0x88be || proto == 0x22eb) ? Tunnel::kErspan : Tunnel::kGre;
        return set_payload(off, len);
      }
      default:
        return set_payload(off, len);
    }
  }

  DecodeResult set_payload(uint32_t off, uint32_t len) {
    d_.payload_offset = off;
    d_.payload_len = len;
    if (off > n_) {  // headers skipped past the captured bytes
      d_.payload_offset = n_;
      d_.captured_payload = 0;
      return DecodeResult::kTruncated;
    }
    const uint32_t present = n_ - off;
    d_.captured_payload = present < len ? present : len;
    return present < len ? DecodeResult::kTruncated : DecodeResult::kOk;
  }

  const uint8_t* f_;
  uint32_t n_;
  Decoded& d_;
};

}  // namespace

DecodeResult decode_frame(const uint8_t* frame, uint32_t caplen, uint16_t linktype, Decoded& out) {
  out = Decoded{};
  return Decoder(frame, caplen, out).link(linktype);
}

bool tunnel_payload(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint16_t& linktype, uint32_t& offset) {
  const uint32_t at = d.payload_offset;
  if (at > caplen || !tunnel_inner(d.tunnel, frame + at, caplen - at, linktype, offset)) return false;
  offset += at;
  return true;
}

bool tunnel_inner(Tunnel kind, const uint8_t* frame, uint32_t caplen, uint16_t& linktype, uint32_t& offset, uint32_t* id) {
  auto have = [&](uint32_t n) { return caplen >= n; };
  auto set_id = [&](uint32_t v) {
    if (id) *id = v;
  };
  auto inner_by_type = [&](uint16_t type, uint32_t header) {
    if (type == 0x6558) {
      linktype = kLinktypeEthernet;
    } else if (type == kEthIpv4 || type == kEthIpv6) {
      linktype = kLinktypeRaw;
    } else {
      return false;
    }
    offset = header;
    return have(header);
  };
  // Enhanced GRE (version 1, PPTP, RFC 2637): key bit set (payload length and call ID), then an
  // optional sequence number and acknowledgment, then a PPP frame whose address and control
  // bytes (FF 03) and the protocol's leading zero may have been compressed away.
  auto ppp_in_enhanced_gre = [&](uint16_t flags, uint16_t type) {
    if (type != 0x880b || !(flags & 0x2000) || (flags & 0xc000)) return false;
    uint32_t ppp = 8 + ((flags & 0x1000) ? 4 : 0) + ((flags & 0x0080) ? 4 : 0);
    if (have(ppp + 2) && frame[ppp] == 0xff && frame[ppp + 1] == 0x03) ppp += 2;
    if (!have(ppp + 1)) return false;
    uint16_t protocol = frame[ppp];
    uint32_t field = 1;
    if (!(protocol & 1)) {  // a full two-byte protocol field
      if (!have(ppp + 2)) return false;
      protocol = be16(frame + ppp);
      field = 2;
    }
    if (protocol != 0x21 && protocol != 0x57) return false;  // IPv4, IPv6; LCP, CCP, ... are not IP
    linktype = kLinktypeRaw;
    offset = ppp + field;
    return true;
  };
  switch (kind) {
    case Tunnel::kVxlan:  // flags (I: a VNI is present), reserved, VNI, reserved
      if (!have(8) || !(frame[0] & 0x08)) return false;
      set_id(static_cast<uint32_t>(frame[4]) << 16 | static_cast<uint32_t>(frame[5]) << 8 | frame[6]);
      linktype = kLinktypeEthernet;
      offset = 8;
      return true;
    case Tunnel::kGeneve: {  // version, options length (4-byte words), flags, protocol type
      if (!have(8) || (frame[0] >> 6) != 0) return false;
      set_id(static_cast<uint32_t>(frame[4]) << 16 | static_cast<uint32_t>(frame[5]) << 8 | frame[6]);
      return inner_by_type(be16(frame + 2), 8 + 4u * (frame[0] & 0x3f));
    }
    case Tunnel::kGre:
    case Tunnel::kErspan: {
      if (!have(4)) return false;
      const uint16_t flags = be16(frame), type = be16(frame + 2);
      if ((flags & 0x0007) == 1) return ppp_in_enhanced_gre(flags, type);
      if ((flags & 0x4000) || (flags & 0x0007) != 0) return false;  // routing (obsolete), unknown versions
      const uint32_t header = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);
      // The id: ERSPAN's session id, else GRE's key (the word after the checksum, when K is set).
      if ((flags & 0x2000) && have(header)) set_id(be32(frame + 4 + ((flags & 0x8000) ? 4 : 0)));
      if ((type == 0x88be || type == 0x22eb) && (flags & 0x1000) && have(header + 4)) set_id(be16(frame + header + 2) & 0x3ff);
      if (type == 0x88be) {  // ERSPAN type II (sequenced), or type I (no sequence number, no header)
        linktype = kLinktypeEthernet;
        offset = header + ((flags & 0x1000) ? 8 : 0);
        return have(offset);
      }
      if (type == 0x22eb) {  // ERSPAN type III: 12 bytes, then 8 more when the O flag says so
        if (!have(header + 12)) return false;
        const bool platform = frame[header + 11] & 0x01;
        linktype = kLinktypeEthernet;
        offset = header + 12 + (platform ? 8 : 0);
        return have(offset);
      }
      return inner_by_type(type, header);
    }
    case Tunnel::kNone:
      break;
  }
  return false;
}

void DecodeCounters::count(DecodeResult r, const Decoded& d) {
  switch (r) {
    case DecodeResult::kOk: ++ok; break;
    case DecodeResult::kTruncated: ++truncated; break;
    case DecodeResult::kUnknownLinktype: ++unknown_linktype; break;
    case DecodeResult::kNotIp: ++not_ip; break;
    case DecodeResult::kMalformed: ++malformed; break;
  }
  if (d.fragment) ++fragments;
  if (d.tunnel != Tunnel::kNone) ++tunnels;
}

namespace {
uint32_t hash_mix(uint32_t h, uint32_t v) {
  h ^= v;
  h *= 0x9e3779b1u;
  return h ^ (h >> 15);
}
}  // namespace

uint32_t flow_hash(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint16_t linktype) {
  uint32_t h = 0x811c9dc5u;
  if (d.ip_version == 0) {
    if (linktype == kLinktypeEthernet && caplen >= 12) {
      // Non-IP: the two MAC addresses, in either order.
      const int c = std::memcmp(frame, frame + 6, 6);
      const uint8_t* lo = c < 0 ? frame : frame + 6;
      const uint8_t* hi = c < 0 ? frame + 6 : frame;
      for (int i = 0; i < 6; ++i) h = hash_mix(h, static_cast<uint32_t>(lo[i]) << 8 | hi[i]);
    }
    return h;
  }
  const size_t n = d.ip_version == 4 ? 4 : 16;
  // ICMP's "ports" are type and code, which differ between a request and its reply (echo 8/0,
  // 128/129): ICMP between two hosts is one flow, so they do not count.
  const bool icmp = d.protocol == 1 || d.protocol == 58;
  const uint16_t sport = icmp ? 0 : d.sport, dport = icmp ? 0 : d.dport;
  const int c = std::memcmp(d.src, d.dst, n);
  const bool swap = c > 0 || (c == 0 && sport > dport);
  const uint8_t* a = swap ? d.dst : d.src;
  const uint8_t* b = swap ? d.src : d.dst;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t wa, wb;
    std::memcpy(&wa, a + i, 4);
    std::memcpy(&wb, b + i, 4);
    h = hash_mix(hash_mix(h, wa), wb);
  }
  const uint16_t pa = swap ? dport : sport, pb = swap ? sport : dport;
  return hash_mix(hash_mix(h, static_cast<uint32_t>(pa) << 16 | pb), d.protocol);
}

uint32_t flow_hash(const uint8_t* frame, uint32_t caplen, uint16_t linktype) {
  Decoded d;
  decode_frame(frame, caplen, linktype, d);
  return flow_hash(d, frame, caplen, linktype);
}

}  // namespace podspan
