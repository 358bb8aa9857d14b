#include "forward/encap_sender.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <linux/filter.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "decode/decode.h"
#include "common/errors.h"

namespace podspan {
namespace {

constexpr size_t kEthernetHeader = 14, kUdpHeader = 8;
constexpr size_t kFlushBytes = 256u << 10;  // a socket's pending datagrams go out at this size
constexpr size_t kMaxUdpPayload = 65535 - kUdpHeader - 40;
constexpr size_t kGsoSegments = 64;     // UDP_MAX_SEGMENTS in older kernels
constexpr size_t kGsoBytes = 60000;     // a GSO message stays under the 64 KiB IP limit

// Frames of other link types go behind Ethernet: finds the network-layer bytes and ethertype.
bool network_layer(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint16_t linktype, uint32_t& offset,
                   uint16_t& ethertype) {
  if (d.ip_version != 0 && d.l3_offset <= caplen) {
    offset = d.l3_offset;
    ethertype = d.ip_version == 4 ? 0x0800 : 0x86dd;
    return true;
  }
  if (linktype == kLinktypeLinuxSll && caplen >= 16) {
    offset = 16;
    ethertype = static_cast<uint16_t>(frame[14] << 8 | frame[15]);
    return true;
  }
  if (linktype == kLinktypeLinuxSll2 && caplen >= 20) {
    offset = 20;
    ethertype = static_cast<uint16_t>(frame[0] << 8 | frame[1]);
    return true;
  }
  return false;
}

// A cooked capture's packet type says whether the frame left the interface (4: outgoing).
bool outgoing(const uint8_t* frame, uint32_t caplen, uint16_t linktype) {
  if (linktype == kLinktypeLinuxSll && caplen >= 2) return (frame[0] << 8 | frame[1]) == 4;
  if (linktype == kLinktypeLinuxSll2 && caplen >= 11) return frame[10] == 4;
  return false;
}

[[noreturn]] void fail(const std::string& target, const char* what, int err) {
  throw CaptureError(ErrorKind::kForward, target + ": " + what + ": " + std::strerror(err));
}

}  // namespace

EncapSender::EncapSender(EncapOptions options) : opt_(std::move(options)) {
  const bool v6 = opt_.host.find(':') != std::string::npos;
  const bool udp = opt_.header.over_udp();
  target_ = std::string(opt_.header.scheme()) + "://" + (v6 ? "[" + opt_.host + "]" : opt_.host) + (udp ? ":" + std::to_string(opt_.port) : "");
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr_);
    a->sin6_family = AF_INET6;
    a->sin6_port = udp ? htons(opt_.port) : 0;  // a raw IPv6 socket takes no port (it would be read as the protocol)
    if (inet_pton(AF_INET6, opt_.host.c_str(), &a->sin6_addr) != 1) {
      throw CaptureError(ErrorKind::kForward, target_ + ": not an IPv6 address");
    }
    addr_len_ = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr_);
    a->sin_family = AF_INET;
    a->sin_port = udp ? htons(opt_.port) : 0;
    if (inet_pton(AF_INET, opt_.host.c_str(), &a->sin_addr) != 1) {
      throw CaptureError(ErrorKind::kForward, target_ + ": not an IPv4 address");
    }
    addr_len_ = sizeof(sockaddr_in);
  }
  header_size_ = opt_.header.size();
  outer_overhead_ = (v6 ? 40 : 20) + (udp ? kUdpHeader : 0) + header_size_;
  max_datagram_ = udp ? kMaxUdpPayload : kMaxUdpPayload + kUdpHeader;
  // GRE (and ERSPAN over it) has no ports to spread flows over and no UDP GSO: one raw IP socket
  // (protocol 47; the kernel builds the IPv4 or IPv6 header), so its sequence numbers go out in order.
  pools_.resize(udp ? std::max<uint32_t>(1, opt_.source_ports) : 1);
  gso_ = udp;
  for (Pool& p : pools_) {
    const int type = (udp ? SOCK_DGRAM : SOCK_RAW) | SOCK_CLOEXEC | (opt_.block_when_full ? 0 : SOCK_NONBLOCK);
    p.fd = ::socket(v6 ? AF_INET6 : AF_INET, type, udp ? 0 : IPPROTO_GRE);
    if (p.fd < 0) fail(target_, udp ? "cannot open a UDP socket" : opt_.header.erspan() ? "cannot open a raw IP socket for ERSPAN over GRE (needs CAP_NET_RAW)" : "cannot open a raw IP socket for GRE (needs CAP_NET_RAW)", errno);
    if (!udp) {
      // A raw socket would also queue every GRE packet this host receives: take none.
      sock_filter drop{BPF_RET | BPF_K, 0, 0, 0};
      sock_fprog prog{1, &drop};
      setsockopt(p.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    }
    const int sndbuf = 4 << 20;
    setsockopt(p.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // Oversized datagrams: fragmented by the kernel (policy fragment) or never built (truncate).
    const int pmtu = v6 ? IPV6_PMTUDISC_DONT : IP_PMTUDISC_DONT;
    setsockopt(p.fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    if (::connect(p.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) fail(target_, "cannot reach", errno);
    p.buf.reserve(kFlushBytes + kMaxUdpPayload);
  }
  msgs_.resize(opt_.batch);
  iovs_.resize(opt_.batch);
  control_.resize(opt_.batch);
  datagrams_.resize(opt_.batch);
}

EncapSender::~EncapSender() {
  for (Pool& p : pools_)
    if (p.fd >= 0) ::close(p.fd);
}

std::vector<uint16_t> EncapSender::source_ports() const {
  std::vector<uint16_t> out;
  if (!opt_.header.over_udp()) return out;  // GRE: no ports
  for (const Pool& p : pools_) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (getsockname(p.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) continue;
    out.push_back(ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&a)->sin_port));
  }
  return out;
}

void EncapSender::consume(const PacketRecord& rec, const uint8_t* bytes) {
  const uint16_t linktype = rec.iface < linktypes_.size() ? linktypes_[rec.iface] : uint16_t{kLinktypeEthernet};
  uint32_t offset = 0;
  uint16_t ethertype = 0;
  const bool synthetic = linktype != kLinktypeEthernet;
  Decoded dec;  // once per frame: for the outer source port and, off Ethernet, the network layer
  decode_frame(bytes, rec.caplen, linktype, dec);
  if ((synthetic && !network_layer(dec, bytes, rec.caplen, linktype, offset, ethertype)) ||
      (!synthetic && rec.caplen < kEthernetHeader)) {
    ++stats_.unsupported;  // nothing that could go behind an Ethernet header
    return;
  }
  size_t inner = rec.caplen - offset + (synthetic ? kEthernetHeader : 0);
  if (opt_.truncate != 0 && inner > opt_.truncate) {
    inner = opt_.truncate;
    ++stats_.truncated;
  }
  const size_t room_mtu = opt_.mtu > outer_overhead_ ? opt_.mtu - outer_overhead_ : 0;
  if (inner > room_mtu) {
    if (opt_.oversize == OversizePolicy::kTruncate) {
      inner = room_mtu;
      ++stats_.oversize_truncated;
    } else {
      ++stats_.oversize_fragmented;
    }
  }
  if (inner + header_size_ > max_datagram_) {  // beyond what UDP carries at all
    inner = max_datagram_ - header_size_;
    ++stats_.oversize_truncated;
  }
  inner = std::max(inner, kEthernetHeader);  // cuts never go into the Ethernet header
  Pool& p = pools_[flow_hash(dec, bytes, rec.caplen, linktype) % pools_.size()];
  const size_t start = p.buf.size();
  p.buf.resize(start + header_size_ + inner);
  uint8_t* d = p.buf.data() + start;
  opt_.header.write(d, rec.iface, gre_sequence_++, rec.ts_ns, opt_.egress_capture || outgoing(bytes, rec.caplen, linktype));
  d += header_size_;
  size_t frame_bytes = inner;
  if (synthetic) {
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // locally administered
    std::memcpy(d, macs, 12);
    d[12] = static_cast<uint8_t>(ethertype >> 8);
    d[13] = static_cast<uint8_t>(ethertype);
    d += kEthernetHeader;
    frame_bytes -= kEthernetHeader;
    ++stats_.synthetic_ethernet;
  }
  if (frame_bytes != 0) std::memcpy(d, bytes + offset, frame_bytes);
  p.starts.push_back(static_cast<uint32_t>(start));
  stats_.bytes += inner;
  if (p.starts.size() >= opt_.batch || p.buf.size() >= kFlushBytes) send(p);
}

void EncapSender::send(Pool& p) {
  // Runs of equal-size datagrams (a flood of small frames is mostly that) go as one message with
  // UDP GSO: the kernel walks its send path once per run instead of once per datagram.
  const size_t n = p.starts.size();
  auto length = [&](size_t i) { return (i + 1 < n ? p.starts[i + 1] : p.buf.size()) - p.starts[i]; };
  size_t m = 0;
  for (size_t i = 0; i < n;) {
    const size_t size = length(i);
    size_t j = i + 1, total = size;
    if (gso_ && size + outer_overhead_ - header_size_ <= opt_.mtu) {
      while (j < n && j - i < kGsoSegments && length(j) == size && total + size <= kGsoBytes) {
        total += size;
        ++j;
      }
    }
    iovs_[m].iov_base = p.buf.data() + p.starts[i];
    iovs_[m].iov_len = total;
    std::memset(&msgs_[m], 0, sizeof msgs_[m]);
    msgs_[m].msg_hdr.msg_iov = &iovs_[m];
    msgs_[m].msg_hdr.msg_iovlen = 1;
    if (j - i > 1) {
      auto* c = reinterpret_cast<cmsghdr*>(control_[m].data);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t seg = static_cast<uint16_t>(size);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
      msgs_[m].msg_hdr.msg_control = control_[m].data;
      msgs_[m].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    }
    datagrams_[m] = static_cast<uint32_t>(j - i);
    ++m;
    i = j;
  }
  for (size_t done = 0; done < m;) {
    const int r = sendmmsg(p.fd, msgs_.data() + done, static_cast<unsigned>(m - done), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (datagrams_[done] > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
        gso_ = false;  // this kernel or path cannot segment: send this run one datagram at a time
        for (size_t k = 0, off = 0; k < datagrams_[done]; ++k) {
          const size_t seg = iovs_[done].iov_len / datagrams_[done];
          if (::send(p.fd, static_cast<uint8_t*>(iovs_[done].iov_base) + off, seg, 0) >= 0) ++stats_.frames;
          else {
            ++stats_.send_errors;
            stats_.bytes -= seg - header_size_;
          }
          off += seg;
        }
        ++done;
        continue;
      }
      // Full socket buffer (live capture does not wait), unreachable, ...: the message is lost.
      stats_.send_errors += datagrams_[done];
      stats_.bytes -= iovs_[done].iov_len - datagrams_[done] * header_size_;
      ++done;
      continue;
    }
    for (int k = 0; k < r; ++k) stats_.frames += datagrams_[done + static_cast<size_t>(k)];
    done += static_cast<size_t>(r);
  }
  p.buf.clear();
  p.starts.clear();
}

void EncapSender::send_all() {
  for (Pool& p : pools_)
    if (!p.starts.empty()) send(p);
  std::lock_guard<std::mutex> lk(snap_mu_);
  snapshot_ = stats_;
}

EncapStats EncapSender::stats() const {
  std::lock_guard<std::mutex> lk(snap_mu_);
  return snapshot_;
}

}  // namespace podspan
