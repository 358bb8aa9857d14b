// decode_frame on crafted frames of every link type we handle, tags, options, extension
// headers, fragments, tunnels and truncation; and on every packet of the corpus.
#include <dirent.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <string>
#include <vector>

#include "check.h"
#include "decode/decode.h"
#include "common/errors.h"
#include "pcap/file_reader.h"

using namespace podspan;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes be16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

Bytes eth(uint16_t type) { return cat({Bytes(12, 0x02), be16(type)}); }
Bytes vlan(uint16_t id, uint16_t next) { return cat({be16(id), be16(next)}); }

Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, size_t payload) {
  Bytes t(20, 0);
  t[0] = sport >> 8; t[1] = sport & 0xff; t[2] = dport >> 8; t[3] = dport & 0xff;
  t[4] = seq >> 24; t[5] = (seq >> 16) & 0xff; t[6] = (seq >> 8) & 0xff; t[7] = seq & 0xff;
  t[12] = 5 << 4;
  t[13] = flags;
  return cat({t, Bytes(payload, 0x61)});
}
Bytes udp(uint16_t sport, uint16_t dport, size_t payload) {
  const uint16_t len = static_cast<uint16_t>(8 + payload);
  return cat({be16(sport), be16(dport), be16(len), be16(0), Bytes(payload, 0x62)});
}

Bytes ipv4(uint8_t proto, const Bytes& l4, size_t option_bytes = 0, uint16_t frag = 0) {
  Bytes h(20 + option_bytes, 0);
  h[0] = static_cast<uint8_t>(0x40 | ((20 + option_bytes) / 4));
  const uint16_t total = static_cast<uint16_t>(h.size() + l4.size());
  h[2] = total >> 8; h[3] = total & 0xff;
  h[4] = 0x12; h[5] = 0x34;
  h[6] = frag >> 8; h[7] = frag & 0xff;
  h[8] = 64; h[9] = proto;
  h[12] = 10; h[13] = 0; h[14] = 0; h[15] = 1;
  h[16] = 10; h[17] = 0; h[18] = 0; h[19] = 2;
  for (size_t i = 20; i < h.size(); ++i) h[i] = 1;  // NOP options
  return cat({h, l4});
}

Bytes ipv6(uint8_t next, const Bytes& rest) {
  Bytes h(40, 0);
  h[0] = 0x60;
  h[4] = static_cast<uint8_t>(rest.size() >> 8); h[5] = rest.size() & 0xff;
  h[6] = next; h[7] = 64;
  h[8] = 0x20; h[9] = 0x01; h[23] = 1;
  h[24] = 0x20; h[25] = 0x01; h[39] = 2;
  return cat({h, rest});
}

Decoded dec(const Bytes& f, uint16_t linktype, DecodeResult want) {
  Decoded d;
  const DecodeResult r = decode_frame(f.data(), static_cast<uint32_t>(f.size()), linktype, d);
  CHECK_EQ(static_cast<int>(r), static_cast<int>(want));
  return d;
}

}  // namespace

TEST(decode_ethernet_ipv4_tcp_with_options) {
  const Bytes f = cat({eth(0x0800), ipv4(6, tcp(1234, 80, 1000, kSyn | kAck, 5), 8)});
  Decoded d = dec(f, kLinktypeEthernet, DecodeResult::kOk);
  CHECK_EQ(d.ip_version, 4);
  CHECK_EQ(d.protocol, 6);
  CHECK_EQ(d.sport, 1234);
  CHECK_EQ(d.dport, 80);
  CHECK_EQ(d.seq, 1000u);
  CHECK_EQ(d.tcp_flags, kSyn | kAck);
  CHECK_EQ(d.l4_offset, 14u + 28u);
  CHECK_EQ(d.payload_offset, 14u + 28u + 20u);
  CHECK_EQ(d.payload_len, 5u);
  CHECK_EQ(d.src[3], 1);
  CHECK_EQ(d.dst[3], 2);
}

TEST(decode_vlan_qinq_stacked) {
  const Bytes f = cat({eth(0x88a8), vlan(100, 0x8100), vlan(200, 0x8100), vlan(300, 0x0800), ipv4(17, udp(53, 5353, 10))});
  Decoded d = dec(f, kLinktypeEthernet, DecodeResult::kOk);
  CHECK_EQ(d.vlan_count, 3);
  CHECK_EQ(d.vlan[0], 100);
  CHECK_EQ(d.vlan[2], 300);
  CHECK_EQ(d.dport, 5353);
  CHECK_EQ(d.payload_len, 10u);
}

TEST(decode_mpls_label_stacks_down_to_ip) {
  // label(20) tc(3) bottom(1) ttl(8)
  auto label = [](uint32_t l, bool bottom) {
    return Bytes{static_cast<uint8_t>(l >> 12), static_cast<uint8_t>(l >> 4), static_cast<uint8_t>((l & 0xf) << 4 | (bottom ? 1 : 0)), 64};
  };
  Decoded d = dec(cat({eth(0x8100), vlan(4093, 0x8847), label(16, false), label(17, true), ipv4(6, tcp(1234, 80, 7, kAck, 3))}), kLinktypeEthernet, DecodeResult::kOk);
  CHECK_EQ(d.vlan[0], 4093);
  CHECK_EQ(d.ip_version, 4);
  CHECK_EQ(d.l3_offset, 14u + 4u + 8u);
  CHECK_EQ(d.payload_len, 3u);
  d = dec(cat({eth(0x8848), label(3, true), ipv6(17, udp(1, 2, 4))}), kLinktypeEthernet, DecodeResult::kOk);
  CHECK_EQ(d.ip_version, 6);
  CHECK_EQ(d.dport, 2);
  // A pseudowire control word after the stack is not IP; a stack cut short is truncated; a
  // stack without a bottom within 8 labels is malformed.
  dec(cat({eth(0x8847), label(3, true), Bytes(4, 0), Bytes(14, 0)}), kLinktypeEthernet, DecodeResult::kNotIp);
  dec(cat({eth(0x8847), label(3, false), Bytes(2, 0)}), kLinktypeEthernet, DecodeResult::kTruncated);
  Bytes deep = eth(0x8847);
  for (int i = 0; i < 9; ++i) deep = cat({deep, label(100 + i, false)});
  dec(cat({deep, ipv4(17, udp(1, 2, 0))}), kLinktypeEthernet, DecodeResult::kMalformed);
}

TEST(decode_opens_vxlan_geneve_gre_and_erspan_to_the_frame_inside) {
  const Bytes inner_eth = cat({eth(0x0800), ipv4(6, tcp(40000, 8080, 1, kAck, 7))});
  const Bytes inner_ip = ipv4(6, tcp(40001, 8081, 1, kAck, 7));
  auto open = [](const Bytes& f, uint16_t want_link) {
    Decoded d = dec(f, kLinktypeEthernet, DecodeResult::kOk);
    uint16_t link = 0;
    uint32_t at = 0;
    CHECK(tunnel_payload(d, f.data(), static_cast<uint32_t>(f.size()), link, at));
    CHECK_EQ(link, want_link);
    Decoded in;
    CHECK_EQ(static_cast<int>(decode_frame(f.data() + at, static_cast<uint32_t>(f.size() - at), link, in)), static_cast<int>(DecodeResult::kOk));
    return in;
  };
  auto gre = [](uint16_t flags, uint16_t type, size_t extra) { return cat({be16(flags), be16(type), Bytes(extra, 0)}); };
  // VXLAN: I flag, VNI 42.
  Decoded in = open(cat({eth(0x0800), ipv4(17, cat({be16(51000), be16(4789), be16(static_cast<uint16_t>(16 + inner_eth.size())), be16(0), Bytes{0x08, 0, 0, 0, 0, 0, 42, 0}, inner_eth}))}), kLinktypeEthernet);
  CHECK_EQ(in.dport, 8080);
  // GENEVE with two 4-byte words of options, carrying Ethernet.
  in = open(cat({eth(0x0800), ipv4(17, cat({be16(51000), be16(6081), be16(static_cast<uint16_t>(24 + inner_eth.size())), be16(0), Bytes{0x02, 0, 0x65, 0x58, 0, 0, 7, 0}, Bytes(8, 0xaa), inner_eth}))}), kLinktypeEthernet);
  CHECK_EQ(in.dport, 8080);
  // GRE with checksum, key and sequence number, carrying IPv4.
  in = open(cat({eth(0x0800), ipv4(47, cat({gre(0xb000, 0x0800, 12), inner_ip}))}), kLinktypeRaw);
  CHECK_EQ(in.dport, 8081);
  // GRE transparent Ethernet bridging.
  CHECK_EQ(open(cat({eth(0x0800), ipv4(47, cat({gre(0, 0x6558, 0), inner_eth}))}), kLinktypeEthernet).dport, 8080);
  // ERSPAN type I (no sequence number, no header), type II (8-byte header), type III with the
  // platform subheader (O flag).
  CHECK_EQ(open(cat({eth(0x0800), ipv4(47, cat({gre(0, 0x88be, 0), inner_eth}))}), kLinktypeEthernet).dport, 8080);
  CHECK_EQ(open(cat({eth(0x0800), ipv4(47, cat({gre(0x1000, 0x88be, 4), Bytes(8, 0x10), inner_eth}))}), kLinktypeEthernet).dport, 8080);
  Bytes e3(12, 0x20);
  e3[11] = 0x01;
  CHECK_EQ(open(cat({eth(0x0800), ipv4(47, cat({gre(0x1000, 0x22eb, 4), e3, Bytes(8, 0x30), inner_eth}))}), kLinktypeEthernet).dport, 8080);
  // Enhanced GRE (PPTP, version 1) carrying PPP: with sequence and acknowledgment numbers and
  // the full PPP header; without either and with address, control and the protocol's leading
  // zero compressed away; and IPv6.
  in = open(cat({eth(0x0800), ipv4(47, cat({gre(0x3081, 0x880b, 12), Bytes{0xff, 0x03, 0x00, 0x21}, inner_ip}))}), kLinktypeRaw);
  CHECK_EQ(in.dport, 8081);
  in = open(cat({eth(0x0800), ipv4(47, cat({gre(0x2001, 0x880b, 4), Bytes{0x21}, inner_ip}))}), kLinktypeRaw);
  CHECK_EQ(in.dport, 8081);
  in = open(cat({eth(0x0800), ipv4(47, cat({gre(0x2001, 0x880b, 4), Bytes{0x00, 0x57}, ipv6(6, tcp(40002, 8082, 1, kAck, 7))}))}), kLinktypeRaw);
  CHECK_EQ(in.ip_version, 6);
  CHECK_EQ(in.dport, 8082);
  // Not opened: PPP that is not IP (LCP, as in the corpus's PPTP capture), a VXLAN header
  // without its I flag, a GRE header cut short.
  auto closed = [](const Bytes& f) {
    Decoded d;
    decode_frame(f.data(), static_cast<uint32_t>(f.size()), kLinktypeEthernet, d);
    CHECK(d.tunnel != Tunnel::kNone);
    uint16_t link = 0;
    uint32_t at = 0;
    CHECK(!tunnel_payload(d, f.data(), static_cast<uint32_t>(f.size()), link, at));
  };
  closed(cat({eth(0x0800), ipv4(47, cat({gre(0x3081, 0x880b, 12), Bytes{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}}))}));
  closed(cat({eth(0x0800), ipv4(47, cat({gre(0x3081, 0x880b, 8)}))}));
  closed(cat({eth(0x0800), ipv4(17, cat({be16(51000), be16(4789), be16(16), be16(0), Bytes(8, 0)}))}));
  Bytes cut = cat({eth(0x0800), ipv4(47, cat({gre(0xb000, 0x0800, 12), inner_ip}))});
  cut.resize(14 + 20 + 8);
  closed(cut);
}

TEST(decode_sll_sll2_raw_null) {
  const Bytes ip = ipv4(17, udp(1, 2, 3));
  Bytes sll(16, 0);
  sll[14] = 0x08;
  dec(cat({sll, ip}), kLinktypeLinuxSll, DecodeResult::kOk);
  Bytes sll2(20, 0);
  sll2[0] = 0x08;
  dec(cat({sll2, ip}), kLinktypeLinuxSll2, DecodeResult::kOk);
  dec(ip, kLinktypeRaw, DecodeResult::kOk);
  dec(ip, kLinktypeIpv4, DecodeResult::kOk);
  Decoded d6 = dec(cat({Bytes{24, 0, 0, 0}, ipv6(17, udp(1, 2, 3))}), kLinktypeNull, DecodeResult::kOk);
  CHECK_EQ(d6.ip_version, 6);
  dec(ipv6(17, udp(1, 2, 3)), kLinktypeIpv6, DecodeResult::kOk);
  dec(ip, 147, DecodeResult::kUnknownLinktype);
  dec(cat({eth(0x0806), Bytes(28, 0)}), kLinktypeEthernet, DecodeResult::kNotIp);
}

TEST(decode_ipv6_extension_headers_and_fragment) {
  // hop-by-hop (8) -> destination options (8) -> fragment (8) -> TCP
  Bytes hbh = {60, 0, 1, 4, 0, 0, 0, 0};
  Bytes dst = {44, 0, 1, 4, 0, 0, 0, 0};
  Bytes frag = {6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};  // offset 0, more fragments
  const Bytes f = cat({eth(0x86dd), ipv6(0, cat({hbh, dst, frag, tcp(5, 6, 7, kAck, 9)}))});
  Decoded d = dec(f, kLinktypeEthernet, DecodeResult::kOk);
  CHECK_EQ(d.protocol, 6);
  CHECK(d.fragment);
  CHECK(d.more_fragments);
  CHECK_EQ(d.frag_id, 0xdeadbeefu);
  CHECK_EQ(d.sport, 5);
  CHECK_EQ(d.payload_len, 9u);
  CHECK_EQ(d.l4_offset, 14u + 40u + 24u);
}

TEST(decode_ipv4_later_fragment_has_no_transport_header) {
  const Bytes f = cat({eth(0x0800), ipv4(6, Bytes(100, 0x33), 0, 0x2000 | 185)});
  Decoded d = dec(f, kLinktypeEthernet, DecodeResult::kOk);
  CHECK(d.fragment);
  CHECK_EQ(d.frag_offset, 1480u);
  CHECK_EQ(d.sport, 0);
  CHECK_EQ(d.payload_len, 100u);
}

TEST(decode_truncation_is_marked_and_never_read_past) {
  const Bytes whole = cat({eth(0x0800), ipv4(6, tcp(1, 2, 3, kAck, 100))});
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    Bytes part(whole.begin(), whole.begin() + static_cast<long>(cut));  // exact size: ASan sees overreads
    Decoded d;
    const DecodeResult r = decode_frame(part.data(), static_cast<uint32_t>(part.size()), kLinktypeEthernet, d);
    CHECK(r == DecodeResult::kTruncated);
    if (cut >= 14 + 20 + 20) {
      CHECK_EQ(d.sport, 1);
      CHECK_EQ(d.captured_payload, static_cast<uint32_t>(cut - 54));
      CHECK_EQ(d.payload_len, 100u);
    }
  }
}

TEST(decode_malformed_headers) {
  Bytes bad_ihl = cat({eth(0x0800), ipv4(6, tcp(1, 2, 3, 0, 0))});
  bad_ihl[14] = 0x43;  // IHL 12 bytes
  dec(bad_ihl, kLinktypeEthernet, DecodeResult::kMalformed);
  Bytes bad_version = bad_ihl;
  bad_version[14] = 0x55;
  dec(bad_version, kLinktypeEthernet, DecodeResult::kMalformed);
}

TEST(decode_counts_tunnels) {
  Decoded d = dec(cat({eth(0x0800), ipv4(17, udp(5000, 4789, 8 + 14 + 20))}), kLinktypeEthernet, DecodeResult::kOk);
  CHECK(d.tunnel == Tunnel::kVxlan);
  Decoded g = dec(cat({eth(0x0800), ipv4(47, Bytes{0, 0, 0x88, 0xbe, 0, 0, 0, 0})}), kLinktypeEthernet, DecodeResult::kOk);
  CHECK(g.tunnel == Tunnel::kErspan);
  DecodeCounters c;
  c.count(DecodeResult::kOk, d);
  c.count(DecodeResult::kNotIp, Decoded{});
  CHECK_EQ(c.ok, 1u);
  CHECK_EQ(c.not_ip, 1u);
  CHECK_EQ(c.tunnels, 1u);
}

TEST(decode_every_corpus_packet_without_reading_past_it) {
  const char* env = std::getenv("PODSPAN_CORPUS");
  const std::string dir = env ? env : "../shared/corpus";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    std::printf("  (corpus not found at %s; set PODSPAN_CORPUS)\n", dir.c_str());
    return;
  }
  uint64_t packets = 0;
  DecodeCounters counters;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.find(".pcap") == std::string::npos) continue;
    std::unique_ptr<FileReader> r;
    try {
      r = FileReader::open(dir + "/" + name);
    } catch (const CaptureError&) {
      continue;
    }
    Batch b;
    for (;;) {
      const ReadStatus st = r->read(b, 256, 1 << 20);
      for (const auto& rec : b.records) {
        Bytes exact(b.data.begin() + rec.offset, b.data.begin() + rec.offset + rec.caplen);
        Decoded out;
        counters.count(decode_frame(exact.data(), rec.caplen, r->interfaces()[rec.iface].linktype, out), out);
        ++packets;
      }
      if (st != ReadStatus::kOk) break;
    }
  }
  closedir(d);
  CHECK(packets > 10000);
  CHECK_EQ(counters.ok + counters.truncated + counters.unknown_linktype + counters.not_ip + counters.malformed, packets);
  std::printf("  corpus: %llu packets: ok %llu, truncated %llu, unknown link type %llu, not IP %llu, malformed %llu\n", (unsigned long long)packets, (unsigned long long)counters.ok, (unsigned long long)counters.truncated, (unsigned long long)counters.unknown_linktype, (unsigned long long)counters.not_ip, (unsigned long long)counters.malformed);
  // The rest is ARP, MPLS, PPPoE and other non-IP frames, and snaplen-cut packets.
  CHECK(counters.ok > packets * 8 / 10);
  CHECK(counters.malformed < packets / 100);
  CHECK(counters.fragments > 0);
  CHECK(counters.tunnels > 0);
}

// VXLAN's outer source port and the gRPC fan-out both come from flow_hash: an ICMP echo and its
// reply must land alike, or a receiver sees replies before their requests.
TEST(flow_hash_is_the_same_for_icmp_echo_request_and_reply) {
  const auto swapped = [](Bytes f, size_t ip_at, size_t addr_at, size_t len) {
    for (size_t i = 0; i < len; ++i) std::swap(f[ip_at + addr_at + i], f[ip_at + addr_at + len + i]);
    return f;
  };
  const Bytes echo_v4 = {8, 0, 0, 0, 0x12, 0x34, 0, 1}, reply_v4 = {0, 0, 0, 0, 0x12, 0x34, 0, 1};
  const Bytes req4 = cat({eth(0x0800), ipv4(1, echo_v4)});
  const Bytes rep4 = swapped(cat({eth(0x0800), ipv4(1, reply_v4)}), 14, 12, 4);
  CHECK_EQ(flow_hash(req4.data(), static_cast<uint32_t>(req4.size()), kLinktypeEthernet),
           flow_hash(rep4.data(), static_cast<uint32_t>(rep4.size()), kLinktypeEthernet));

  const Bytes echo_v6 = {128, 0, 0, 0, 0x12, 0x34, 0, 1}, reply_v6 = {129, 0, 0, 0, 0x12, 0x34, 0, 1};
  const Bytes req6 = cat({eth(0x86dd), ipv6(58, echo_v6)});
  const Bytes rep6 = swapped(cat({eth(0x86dd), ipv6(58, reply_v6)}), 14, 8, 16);
  CHECK_EQ(flow_hash(req6.data(), static_cast<uint32_t>(req6.size()), kLinktypeEthernet),
           flow_hash(rep6.data(), static_cast<uint32_t>(rep6.size()), kLinktypeEthernet));

  // Different hosts still hash apart (the addresses count).
  Bytes other = req4;
  other[14 + 15] = 9;
  CHECK(flow_hash(other.data(), static_cast<uint32_t>(other.size()), kLinktypeEthernet) !=
        flow_hash(req4.data(), static_cast<uint32_t>(req4.size()), kLinktypeEthernet));
}
