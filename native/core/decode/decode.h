// Decodes a captured frame down to its transport header: link types (Ethernet with 802.1Q/QinQ
// tags, Linux SLL and SLL2, raw IPv4/IPv6, BSD null/loopback), IPv4 with options, IPv6 with
// extension headers, TCP, UDP, ICMP/ICMPv6. Reads only the bytes that were captured: a
// snaplen-truncated frame decodes as far as it goes and is marked. No allocation.
#pragma once

#include <cstdint>

namespace podspan {

enum class DecodeResult : uint8_t {
  kOk,               // decoded through the transport header
  kTruncated,        // captured bytes end inside a header (decoded as far as possible)
  kUnknownLinktype,  // link type we do not decode (counted, not fatal)
  kNotIp,            // ARP, LLDP, ... : no IP inside
  kMalformed,        // a header contradicts itself (bad IHL, IP version, length < header)
};

enum class Tunnel : uint8_t { kNone, kGre, kVxlan, kGeneve, kErspan };

struct Decoded {
  uint16_t vlan[3] = {0, 0, 0};  // outermost first
  uint8_t vlan_count = 0;
  uint8_t ip_version = 0;        // 4 or 6 when an IP header was found
  uint8_t protocol = 0;          // transport protocol number (after IPv6 extension headers)
  uint8_t ttl = 0;
  uint8_t src[16] = {0};         // IPv4 uses the first 4 bytes
  uint8_t dst[16] = {0};
  uint16_t sport = 0, dport = 0; // TCP/UDP ports; ICMP: type and code
  // Fragments (IPv4 and the IPv6 fragment header); offsets in bytes.
  bool fragment = false;
  bool more_fragments = false;
  uint32_t frag_id = 0;
  uint32_t frag_offset = 0;
  uint8_t frag_next = 0;         // IPv6: the next-header value in the fragment header
  uint32_t frag_data_offset = 0; // where this fragment's part of the datagram starts in the frame
  uint32_t frag_data_len = 0;    // ... and its length per the IP header
  // TCP
  uint32_t seq = 0, ack = 0;
  uint8_t tcp_flags = 0;
  uint16_t window = 0;
  // Offsets into the frame
  uint32_t l3_offset = 0, l4_offset = 0, payload_offset = 0;
  uint32_t payload_len = 0;      // transport payload per the IP length, may exceed captured
  uint32_t captured_payload = 0; // payload bytes actually present
  Tunnel tunnel = Tunnel::kNone; // a tunnel seen in this frame (tunnel_payload() finds its inside)
};

enum TcpFlag : uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20 };

DecodeResult decode_frame(const uint8_t* frame, uint32_t caplen, uint16_t linktype, Decoded& out);

// A symmetric hash of the flow a decoded frame belongs to (both directions hash alike): the
// addresses, ports and protocol for IP (ICMP without its type and code, so an echo and its reply
// hash alike), the two MAC addresses for other Ethernet frames.
// Picks a VXLAN outer source port and a frame's collector.
uint32_t flow_hash(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint16_t linktype);
// The same, decoding the frame first.
uint32_t flow_hash(const uint8_t* frame, uint32_t caplen, uint16_t linktype);

// The frame a tunnel carries, for a frame decode_frame marked with a tunnel: its link type
// (Ethernet for VXLAN, GENEVE, ERSPAN and GRE's transparent bridging; raw IP for GRE or GENEVE
// carrying IP) and where it starts. False when the tunnel header is cut short or of a kind we
// do not open (GRE with routing, enhanced GRE of PPTP, a VXLAN header without its I flag).
bool tunnel_payload(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint16_t& linktype, uint32_t& offset);
// The same from the tunnel header itself (a UDP payload, the bytes after an IP header): `offset`
// counts from `header`. `id`, when given, gets the VNI (VXLAN, GENEVE), ERSPAN's session id, or
// GRE's key (left alone when there is none). Kind kGre also opens ERSPAN (by GRE's protocol).
bool tunnel_inner(Tunnel kind, const uint8_t* header, uint32_t len, uint16_t& linktype, uint32_t& offset, uint32_t* id = nullptr);

// Per-result counters, for "packets not decoded and why".
struct DecodeCounters {
  uint64_t ok = 0, truncated = 0, unknown_linktype = 0, not_ip = 0, malformed = 0;
  uint64_t fragments = 0, tunnels = 0;
  uint64_t tunnels_opened = 0;  // tunnel packets whose inside was decoded (stream reassembly)
  void count(DecodeResult r, const Decoded& d);
};

}  // namespace podspan
