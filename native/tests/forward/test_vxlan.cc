// EncapSender on loopback: the 8-byte header with the VNI, a synthetic Ethernet header for raw
// IP frames, truncation and the MTU policy with their counters; the inner flow hash is
// symmetric, so both directions of a flow leave from the same outer source port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "decode/decode.h"
#include "common/errors.h"
#include "forward/encap_sender.h"

using namespace podspan;

namespace {

std::vector<uint8_t> raw_udp(uint8_t a, uint8_t b, uint16_t sport, uint16_t dport, size_t payload) {
  std::vector<uint8_t> f(28 + payload, 0x5a);
  f[0] = 0x45;
  f[2] = static_cast<uint8_t>((28 + payload) >> 8);
  f[3] = static_cast<uint8_t>(28 + payload);
  f[8] = 64;
  f[9] = 17;
  const uint8_t src[4] = {10, 0, 0, a}, dst[4] = {10, 0, 0, b};
  std::memcpy(&f[12], src, 4);
  std::memcpy(&f[16], dst, 4);
  f[20] = sport >> 8; f[21] = sport & 0xff; f[22] = dport >> 8; f[23] = dport & 0xff;
  return f;
}

struct Receiver {
  int fd = -1;
  uint16_t port = 0;
  explicit Receiver(bool v6 = false) {
    fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    sockaddr_storage st{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&st);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&st);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    ::bind(fd, reinterpret_cast<sockaddr*>(&st), len);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&st), &len);
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&st)->sin6_port : reinterpret_cast<sockaddr_in*>(&st)->sin_port);
  }
  ~Receiver() { ::close(fd); }
  // One datagram and the port it came from, or an empty vector after 1 s.
  std::vector<uint8_t> next(uint16_t* from = nullptr) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return {};
    std::vector<uint8_t> buf(70000);
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&a), &len);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    if (from) {
      *from = ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port : reinterpret_cast<sockaddr_in*>(&a)->sin_port);
    }
    return buf;
  }
};

InterfaceInfo raw_interface() {
  InterfaceInfo i;
  i.linktype = kLinktypeRaw;
  return i;
}

void feed(EncapSender& s, const std::vector<uint8_t>& f) {
  PacketRecord rec{};
  rec.caplen = rec.origlen = static_cast<uint32_t>(f.size());
  s.consume(rec, f.data());
}

}  // namespace

TEST(vxlan_header_vni_and_synthetic_ethernet_for_raw_ip) {
  Receiver rx;
  EncapOptions o;
  o.host = "127.0.0.1";
  o.port = rx.port;
  o.header.vni = 0x123456;
  EncapSender s(o);
  s.add_interface(raw_interface());
  const auto frame = raw_udp(1, 2, 1000, 2000, 100);
  feed(s, frame);
  s.dispatched();
  const auto d = rx.next();
  CHECK_EQ(d.size(), 8u + 14u + frame.size());
  if (d.size() < 22) return;
  CHECK_EQ(static_cast<int>(d[0]), 0x08);
  CHECK_EQ(static_cast<int>(d[4]), 0x12);
  CHECK_EQ(static_cast<int>(d[5]), 0x34);
  CHECK_EQ(static_cast<int>(d[6]), 0x56);
  CHECK_EQ(static_cast<int>(d[8 + 12]), 0x08);  // ethertype IPv4
  CHECK_EQ(static_cast<int>(d[8 + 13]), 0x00);
  CHECK(std::memcmp(d.data() + 22, frame.data(), frame.size()) == 0);
  const EncapStats st = s.stats();
  CHECK_EQ(st.frames, 1u);
  CHECK_EQ(st.synthetic_ethernet, 1u);
}

TEST(vxlan_truncation_and_mtu_policy_are_counted) {
  Receiver rx;
  EncapOptions o;
  o.host = "127.0.0.1";
  o.port = rx.port;
  o.mtu = 600;
  o.oversize = OversizePolicy::kTruncate;
  EncapSender s(o);
  s.add_interface(raw_interface());
  feed(s, raw_udp(1, 2, 1000, 2000, 1000));  // 1028 + 14 inner: over 600 - 36
  s.finish();
  const auto d = rx.next();
  CHECK_EQ(d.size(), 600u - 20u - 8u);  // the outer IP packet is exactly the MTU
  CHECK_EQ(s.stats().oversize_truncated, 1u);

  EncapOptions t = o;
  t.mtu = 1500;
  t.truncate = 64;
  EncapSender s2(t);
  s2.add_interface(raw_interface());
  feed(s2, raw_udp(1, 2, 1000, 2000, 1000));
  s2.finish();
  CHECK_EQ(rx.next().size(), 8u + 64u);
  CHECK_EQ(s2.stats().truncated, 1u);
}

TEST(vxlan_both_directions_of_a_flow_share_an_outer_source_port) {
  const auto ab = raw_udp(1, 2, 1000, 2000, 10), ba = raw_udp(2, 1, 2000, 1000, 10);
  CHECK_EQ(flow_hash(ab.data(), static_cast<uint32_t>(ab.size()), kLinktypeRaw),
           flow_hash(ba.data(), static_cast<uint32_t>(ba.size()), kLinktypeRaw));
  Receiver rx;
  EncapOptions o;
  o.host = "127.0.0.1";
  o.port = rx.port;
  o.source_ports = 8;
  EncapSender s(o);
  s.add_interface(raw_interface());
  CHECK_EQ(s.source_ports().size(), 8u);
  feed(s, ab);
  feed(s, ba);
  s.finish();
  uint16_t p1 = 0, p2 = 0;
  rx.next(&p1);
  rx.next(&p2);
  CHECK(p1 != 0);
  CHECK_EQ(p1, p2);
}

TEST(vxlan_rejects_a_target_that_is_not_an_address) {
  EncapOptions o;
  o.host = "collector.example";
  std::string message;
  try {
    EncapSender s(o);
  } catch (const CaptureError& e) {
    message = e.what();
  }
  CHECK_EQ(message, std::string("vxlan://collector.example:4789: not an IPv4 address"));
}

TEST(vxlan_equal_size_runs_go_as_one_gso_message_and_arrive_as_separate_datagrams) {
  Receiver rx;
  EncapOptions o;
  o.host = "127.0.0.1";
  o.port = rx.port;
  o.source_ports = 1;
  EncapSender s(o);
  s.add_interface(raw_interface());
  for (int i = 0; i < 40; ++i) {
    auto f = raw_udp(1, 2, 1000, 2000, 50);
    f.back() = static_cast<uint8_t>(i);  // tell them apart
    feed(s, f);
  }
  feed(s, raw_udp(1, 2, 1000, 2000, 10));  // a shorter one ends the run
  s.finish();
  for (int i = 0; i < 40; ++i) {
    const auto d = rx.next();
    CHECK_EQ(d.size(), 8u + 14u + 78u);
    if (d.size() == 100) CHECK_EQ(static_cast<int>(d.back()), i);
  }
  CHECK_EQ(rx.next().size(), 8u + 14u + 38u);
  CHECK_EQ(s.stats().frames, 41u);
  CHECK_EQ(s.stats().send_errors, 0u);
}

TEST(vxlan_over_ipv6_and_the_mtu_accounts_for_the_larger_outer_header) {
  Receiver rx(true);
  if (rx.fd < 0 || rx.port == 0) return;  // no IPv6 loopback here
  EncapOptions o;
  o.host = "::1";
  o.port = rx.port;
  o.header.vni = 9;
  o.mtu = 600;
  o.oversize = OversizePolicy::kTruncate;
  EncapSender s(o);
  s.add_interface(raw_interface());
  feed(s, raw_udp(1, 2, 1000, 2000, 1000));
  s.finish();
  const auto d = rx.next();
  CHECK_EQ(d.size(), 600u - 40u - 8u);  // IPv6 header: 20 bytes more than IPv4
  if (d.size() > 7) CHECK_EQ(static_cast<int>(d[6]), 9);
  CHECK_EQ(s.target(), std::string("vxlan://[::1]:") + std::to_string(rx.port));
}
