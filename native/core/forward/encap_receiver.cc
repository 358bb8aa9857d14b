#include "forward/encap_receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/errors.h"
#include "decode/decode.h"

namespace podspan {
namespace {

constexpr int kBatch = 64;
constexpr size_t kMaxDatagram = 65536;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

const char* scheme_of(Encapsulation kind) {
  return kind == Encapsulation::kGeneve ? "geneve" : kind == Encapsulation::kVxlan ? "vxlan" : "gre";
}

std::string label_of(const std::string& scheme) {
  return scheme == "geneve" ? "GENEVE" : scheme == "vxlan" ? "VXLAN" : scheme == "erspan" ? "ERSPAN" : "GRE";
}

std::string address_of(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  else inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

EncapReceiver::EncapReceiver(EncapReceiverOptions options) : opt_(std::move(options)), writer_(opt_.writer) {
  const bool v6 = opt_.host.find(':') != std::string::npos;
  raw_ = opt_.kind == Encapsulation::kGre;
  v6_ = v6;
  const std::string host = v6 ? "[" + opt_.host + "]" : opt_.host;
  const std::string where = std::string(scheme_of(opt_.kind)) + " listen " + host + (raw_ ? "" : ":" + std::to_string(opt_.port));
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = raw_ ? 0 : htons(opt_.port);
    if (inet_pton(AF_INET6, opt_.host.c_str(), &a->sin6_addr) != 1) throw CaptureError(ErrorKind::kForward, where + ": not an IPv6 address");
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = raw_ ? 0 : htons(opt_.port);
    if (inet_pton(AF_INET, opt_.host.c_str(), &a->sin_addr) != 1) throw CaptureError(ErrorKind::kForward, where + ": not an IPv4 address");
    len = sizeof *a;
  }
  fd_ = raw_ ? ::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_GRE) : ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw CaptureError(ErrorKind::kForward, where + ": " + std::strerror(errno) + (raw_ && errno == EPERM ? " (a raw IP socket needs CAP_NET_RAW)" : ""));
  const int rcvbuf = 16 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd_);
    throw CaptureError(ErrorKind::kForward, where + ": " + std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = raw_ ? 0 : ntohs(v6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

EncapReceiver::~EncapReceiver() {
  try {
    stop();
  } catch (...) {
  }
}

void EncapReceiver::start() { thread_ = std::thread([this] { run(); }); }

void EncapReceiver::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  writer_.close();
}

EncapReceiverStats EncapReceiver::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

std::string EncapReceiver::error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return error_;
}

std::vector<std::string> EncapReceiver::files() const { return writer_.files(); }

void EncapReceiver::run() {
  std::vector<uint8_t> bufs(kBatch * kMaxDatagram);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_storage from[kBatch];
  EncapReceiverStats local;
  const Tunnel tunnel = opt_.kind == Encapsulation::kVxlan ? Tunnel::kVxlan : opt_.kind == Encapsulation::kGeneve ? Tunnel::kGeneve : Tunnel::kGre;
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;  // wakes every 100 ms to see stop_
    for (int i = 0; i < kBatch; ++i) {
      iovs[i] = {bufs.data() + static_cast<size_t>(i) * kMaxDatagram, kMaxDatagram};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    const uint64_t ts = now_ns();
    try {
      for (int i = 0; i < n; ++i) {
        ++local.datagrams;
        const uint8_t* d = static_cast<const uint8_t*>(iovs[i].iov_base);
        uint32_t len = msgs[i].msg_len;
        // A raw IPv4 socket hands over the IP header too (IPv6's does not).
        if (raw_ && !v6_) {
          const uint32_t ihl = len > 0 ? (d[0] & 0x0fu) * 4 : 0;
          if (ihl < 20 || len < ihl) {
            ++local.malformed;
            continue;
          }
          d += ihl;
          len -= ihl;
        }
        uint16_t linktype = 0;
        uint32_t inner = 0, id = 0;
        if (!tunnel_inner(tunnel, d, len, linktype, inner, &id) || len - inner < (linktype == kLinktypeEthernet ? 14u : 1u)) {
          ++local.malformed;
          continue;
        }
        const bool erspan = raw_ && ((d[2] == 0x88 && d[3] == 0xbe) || (d[2] == 0x22 && d[3] == 0xeb));  // by GRE's protocol
        const std::string scheme = erspan ? "erspan" : scheme_of(opt_.kind);
        const auto key = std::make_tuple(address_of(from[i]), id, linktype);
        auto it = ifaces_.find(key);
        if (it == ifaces_.end() && ifaces_.size() >= opt_.max_sources) {
          ++local.refused;
          continue;
        }
        if (it == ifaces_.end()) {
          InterfaceInfo info;
          const bool gre = opt_.kind == Encapsulation::kGre;
          const char* id_name = gre ? (scheme == "gre" ? "key" : "session") : "vni";
          info.name = scheme + "/" + std::get<0>(key) + "/" + id_name + std::to_string(id);
          info.description = label_of(scheme) + " from " + std::get<0>(key) + ", " + (gre ? id_name : "VNI") + " " + std::to_string(id);
          info.linktype = linktype;
          writer_.add_interface(info);
          it = ifaces_.emplace(key, static_cast<uint32_t>(ifaces_.size())).first;
          ++local.sources;
        }
        PacketRecord rec{};
        rec.ts_ns = ts;
        rec.caplen = rec.origlen = len - inner;
        rec.iface = it->second;
        writer_.write(rec, d + inner);
        ++local.frames;
        local.bytes += len - inner;
      }
      writer_.flush();
    } catch (const CaptureError& e) {
      std::lock_guard<std::mutex> lk(mu_);
      error_ = e.what();
      stats_ = local;
      return;
    }
    std::lock_guard<std::mutex> lk(mu_);
    stats_ = local;
  }
}

}  // namespace podspan
