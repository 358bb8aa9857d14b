// The encapsulation header writers, byte for byte against the RFCs' and the ERSPAN draft's
// layouts, and the sender carrying a GENEVE header with the podspan TLV, or GRE and ERSPAN over
// raw IPv4 and IPv6 sockets (header lengths counted in the MTU policy, sequence numbers from 0).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "check.h"
#include "forward/encap_header.h"
#include "forward/encap_sender.h"

using namespace podspan;

namespace {

std::vector<uint8_t> written(const EncapHeader& h, uint32_t iface) {
  std::vector<uint8_t> out(h.size(), 0xee);
  h.write(out.data(), iface, 0x01020304);
  return out;
}

}  // namespace

TEST(encap_vxlan_header_rfc7348) {
  EncapHeader h;
  h.vni = 0xabcdef;
  h.podspan_option = true;  // VXLAN has no options: ignored
  CHECK_EQ(h.size(), 8u);
  CHECK(written(h, 3) == (std::vector<uint8_t>{0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0}));
  CHECK_EQ(std::string(h.scheme()), "vxlan");
}

TEST(encap_geneve_header_rfc8926_without_options) {
  EncapHeader h;
  h.kind = Encapsulation::kGeneve;
  h.vni = 0x000102;
  CHECK_EQ(h.size(), 8u);
  CHECK(written(h, 7) == (std::vector<uint8_t>{0x00, 0x00, 0x65, 0x58, 0x00, 0x01, 0x02, 0}));
  CHECK_EQ(std::string(h.scheme()), "geneve");
}

TEST(encap_geneve_header_with_podspan_option) {
  EncapHeader h;
  h.kind = Encapsulation::kGeneve;
  h.vni = 42;
  h.podspan_option = true;
  h.session = 0x01020304;
  CHECK_EQ(h.size(), 20u);
  CHECK(written(h, 0x0a0b0c0d) == (std::vector<uint8_t>{
                                      0x03, 0x00, 0x65, 0x58, 0x00, 0x00, 0x2a, 0x00,  // opt len 3 words
                                      0xff, 0x50, 0x01, 0x02,                          // class, type, 2 words
                                      0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d}));
}

TEST(encap_gre_header_rfc2890_key_and_sequence) {
  EncapHeader h;
  h.kind = Encapsulation::kGre;
  CHECK_EQ(h.size(), 4u);
  CHECK(written(h, 0) == (std::vector<uint8_t>{0x00, 0x00, 0x65, 0x58}));
  h.gre_key = true;
  h.key = 0xcafe0001;
  CHECK_EQ(h.size(), 8u);
  CHECK(written(h, 0) == (std::vector<uint8_t>{0x20, 0x00, 0x65, 0x58, 0xca, 0xfe, 0x00, 0x01}));
  h.gre_sequence = true;
  CHECK_EQ(h.size(), 12u);
  CHECK(written(h, 0) == (std::vector<uint8_t>{0x30, 0x00, 0x65, 0x58, 0xca, 0xfe, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04}));
  h.gre_key = false;
  CHECK(written(h, 0) == (std::vector<uint8_t>{0x10, 0x00, 0x65, 0x58, 0x01, 0x02, 0x03, 0x04}));
  CHECK_EQ(std::string(h.scheme()), "gre");
  CHECK(!h.over_udp());
}

TEST(encap_erspan_type2_header) {
  EncapHeader h;
  h.kind = Encapsulation::kErspan2;
  h.erspan_session = 0x3ff;  // 10 bits, all set
  CHECK_EQ(h.size(), 16u);
  // GRE: S flag, protocol 0x88BE, sequence; ERSPAN II: version 1, session, index (20 bits).
  CHECK(written(h, 0x123456) == (std::vector<uint8_t>{0x10, 0x00, 0x88, 0xbe, 0x01, 0x02, 0x03, 0x04,
                                                       0x10, 0x00, 0x03, 0xff, 0x00, 0x02, 0x34, 0x56}));
  CHECK_EQ(std::string(h.scheme()), "erspan");
  CHECK(!h.over_udp());
}

TEST(encap_erspan_type3_header_timestamp_hwid_direction) {
  EncapHeader h;
  h.kind = Encapsulation::kErspan3;
  h.erspan_session = 5;
  h.erspan_hwid = 0x2a;
  CHECK_EQ(h.size(), 20u);
  std::vector<uint8_t> out(h.size(), 0xee);
  // 1,000,000,000.0123 s: 10,000,000,123 units of 100 µs, kept to 32 bits.
  const uint64_t ts = 1'000'000'000'012'300'000ull;
  h.write(out.data(), 7, 9, ts, true);
  const uint32_t units = static_cast<uint32_t>(ts / 100'000);
  CHECK(out == (std::vector<uint8_t>{0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 9,                // GRE S, 0x22EB, seq 9
                                     0x20, 0x00, 0x00, 0x05,                            // version 2, session 5
                                     uint8_t(units >> 24), uint8_t(units >> 16), uint8_t(units >> 8), uint8_t(units),
                                     0x00, 0x00,                                        // SGT
                                     0x82, 0xa8}));  // P 1, FT 0, hw id 0x2a, D 1, granularity 00, O 0
  h.write(out.data(), 7, 9, ts, false);
  CHECK_EQ(out[19], 0xa0);  // D 0
}

TEST(encap_sender_gre_over_ipv6_on_loopback) {
  // A raw IPv6 socket for protocol 47 on loopback receives the GRE header and frame (no IPv6 header).
  const int fd = ::socket(AF_INET6, SOCK_RAW, IPPROTO_GRE);
  CHECK(fd >= 0);
  if (fd < 0) return;
  EncapOptions o;
  o.host = "::1";
  o.header.kind = Encapsulation::kErspan2;
  o.header.erspan_session = 3;
  o.block_when_full = true;
  EncapSender s(o);
  CHECK_EQ(s.target(), "erspan://[::1]");
  std::vector<uint8_t> frame(60, 0xab);
  PacketRecord rec{};
  rec.caplen = rec.origlen = 60;
  s.add_interface({});
  s.consume(rec, frame.data());
  s.consume(rec, frame.data());
  s.finish();
  for (uint32_t seq = 0; seq < 2; ++seq) {
    pollfd p{fd, POLLIN, 0};
    CHECK_EQ(::poll(&p, 1, 1000), 1);
    uint8_t buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    CHECK_EQ(n, 76);  // 16 header bytes + the frame
    CHECK_EQ(buf[2], 0x88);
    CHECK_EQ(buf[7], seq);
    CHECK(std::memcmp(buf + 16, frame.data(), 60) == 0);
  }
  ::close(fd);
}

TEST(encap_sender_gre_on_loopback_numbers_packets_from_zero) {
  // A raw socket for protocol 47 on loopback receives what the sender sends (with the IPv4 header).
  const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_GRE);
  CHECK(fd >= 0);
  if (fd < 0) return;
  EncapOptions o;
  o.host = "127.0.0.1";
  o.header.kind = Encapsulation::kGre;
  o.header.gre_key = true;
  o.header.key = 77;
  o.header.gre_sequence = true;
  o.mtu = 600;
  o.oversize = OversizePolicy::kTruncate;
  {
    EncapSender s(o);
    CHECK_EQ(s.target(), std::string("gre://127.0.0.1"));
    CHECK(s.source_ports().empty());
    s.add_interface(InterfaceInfo{});
    std::vector<uint8_t> frame(1000, 0x22);
    PacketRecord rec{};
    rec.caplen = rec.origlen = static_cast<uint32_t>(frame.size());
    for (int i = 0; i < 3; ++i) s.consume(rec, frame.data());
    s.finish();
    CHECK_EQ(s.stats().frames, 3u);
    CHECK_EQ(s.stats().oversize_truncated, 3u);
  }
  for (uint8_t i = 0; i < 3; ++i) {
    pollfd p{fd, POLLIN, 0};
    std::vector<uint8_t> d(2000);
    const ssize_t n = ::poll(&p, 1, 1000) == 1 ? ::recv(fd, d.data(), d.size(), 0) : -1;
    CHECK_EQ(n, 600);  // the outer IPv4 packet fills the MTU exactly (20 IP + 12 GRE + 568)
    if (n < 33) break;
    CHECK_EQ(static_cast<int>(d[20]), 0x30);
    CHECK_EQ(static_cast<int>(d[27]), 77);  // key
    CHECK_EQ(static_cast<int>(d[31]), i);   // sequence number
    CHECK_EQ(static_cast<int>(d[32]), 0x22);
  }
  ::close(fd);
}

TEST(encap_sender_geneve_on_loopback_counts_its_header_in_the_mtu) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  EncapOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(a.sin_port);
  o.header.kind = Encapsulation::kGeneve;
  o.header.vni = 5;
  o.header.podspan_option = true;
  o.header.session = 9;
  o.mtu = 600;
  o.oversize = OversizePolicy::kTruncate;
  {
    EncapSender s(o);
    CHECK_EQ(s.target(), "geneve://127.0.0.1:" + std::to_string(o.port));
    InterfaceInfo eth;
    s.add_interface(eth);
    s.add_interface(eth);
    std::vector<uint8_t> frame(1000, 0x11);
    PacketRecord rec{};
    rec.iface = 1;
    rec.caplen = rec.origlen = static_cast<uint32_t>(frame.size());
    s.consume(rec, frame.data());
    s.finish();
    CHECK_EQ(s.stats().frames, 1u);
    CHECK_EQ(s.stats().oversize_truncated, 1u);
  }
  pollfd p{fd, POLLIN, 0};
  std::vector<uint8_t> d(2000);
  const ssize_t n = ::poll(&p, 1, 1000) == 1 ? ::recv(fd, d.data(), d.size(), 0) : -1;
  ::close(fd);
  CHECK_EQ(n, 600 - 20 - 8);  // the outer IPv4 packet fills the MTU exactly
  if (n < 20) return;
  CHECK_EQ(static_cast<int>(d[0]), 3);
  CHECK_EQ(static_cast<int>(d[15]), 9);  // session
  CHECK_EQ(static_cast<int>(d[19]), 1);  // interface index of the record
  CHECK_EQ(static_cast<int>(d[20]), 0x11);
}
