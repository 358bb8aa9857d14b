#include "forward/vxlan_receiver.h"

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

namespace podspan {
namespace {

constexpr int kBatch = 64;
constexpr size_t kMaxDatagram = 65536;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string address_of(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  else inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

VxlanReceiver::VxlanReceiver(VxlanReceiverOptions options) : opt_(std::move(options)), writer_(opt_.writer) {
  const bool v6 = opt_.host.find(':') != std::string::npos;
  const std::string where = "vxlan listen " + (v6 ? "[" + opt_.host + "]" : opt_.host) + ":" + std::to_string(opt_.port);
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(opt_.port);
    if (inet_pton(AF_INET6, opt_.host.c_str(), &a->sin6_addr) != 1) throw CaptureError(ErrorKind::kForward, where + ": not an IPv6 address");
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(opt_.port);
    if (inet_pton(AF_INET, opt_.host.c_str(), &a->sin_addr) != 1) throw CaptureError(ErrorKind::kForward, where + ": not an IPv4 address");
    len = sizeof *a;
  }
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw CaptureError(ErrorKind::kForward, where + ": " + std::strerror(errno));
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
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

VxlanReceiver::~VxlanReceiver() {
  try {
    stop();
  } catch (...) {
  }
}

void VxlanReceiver::start() { thread_ = std::thread([this] { run(); }); }

void VxlanReceiver::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  writer_.close();
}

VxlanReceiverStats VxlanReceiver::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

std::string VxlanReceiver::error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return error_;
}

std::vector<std::string> VxlanReceiver::files() const { return writer_.files(); }

void VxlanReceiver::run() {
  std::vector<uint8_t> bufs(kBatch * kMaxDatagram);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_storage from[kBatch];
  VxlanReceiverStats local;
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
        const uint32_t len = msgs[i].msg_len;
        if (len < 8 + 14 || (d[0] & 0x08) == 0) {
          ++local.malformed;
          continue;
        }
        const uint32_t vni = static_cast<uint32_t>(d[4]) << 16 | static_cast<uint32_t>(d[5]) << 8 | d[6];
        const auto key = std::make_pair(address_of(from[i]), vni);
        auto it = ifaces_.find(key);
        if (it == ifaces_.end() && ifaces_.size() >= opt_.max_sources) {
          ++local.refused;
          continue;
        }
        if (it == ifaces_.end()) {
          InterfaceInfo info;
          info.name = "vxlan/" + key.first + "/vni" + std::to_string(vni);
          info.description = "VXLAN from " + key.first + ", VNI " + std::to_string(vni);
          info.linktype = kLinktypeEthernet;
          writer_.add_interface(info);
          it = ifaces_.emplace(key, static_cast<uint32_t>(ifaces_.size())).first;
          ++local.sources;
        }
        PacketRecord rec{};
        rec.ts_ns = ts;
        rec.caplen = rec.origlen = len - 8;
        rec.iface = it->second;
        writer_.write(rec, d + 8);
        ++local.frames;
        local.bytes += len - 8;
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
