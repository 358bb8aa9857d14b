// The encapsulation header writers, byte for byte against the RFCs' layouts, and the sender
// carrying a GENEVE header with the podspan TLV (its length counted in the MTU policy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "check.h"
#include "encap_header.h"
#include "udp_encap_sender.h"

using namespace podspan;

namespace {

std::vector<uint8_t> written(const EncapHeader& h, uint32_t iface) {
  std::vector<uint8_t> out(h.size(), 0xee);
  h.write(out.data(), iface);
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

TEST(encap_sender_geneve_on_loopback_counts_its_header_in_the_mtu) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  UdpEncapOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(a.sin_port);
  o.header.kind = Encapsulation::kGeneve;
  o.header.vni = 5;
  o.header.podspan_option = true;
  o.header.session = 9;
  o.mtu = 600;
  o.oversize = OversizePolicy::kTruncate;
  {
    UdpEncapSender s(o);
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
