#include "capture/devices.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include "common/errors.h"

namespace podspan {
namespace {

std::string sockaddr_text(const struct sockaddr* sa) {
  if (sa == nullptr) return {};
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

const char* family_name(int family) {
  switch (family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_PACKET: return "packet";
    default: return "other";
  }
}

std::vector<std::string> flag_names(bpf_u_int32 f) {
  std::vector<std::string> out;
  if (f & PCAP_IF_UP) out.emplace_back("up");
  if (f & PCAP_IF_RUNNING) out.emplace_back("running");
  if (f & PCAP_IF_LOOPBACK) out.emplace_back("loopback");
  if (f & PCAP_IF_WIRELESS) out.emplace_back("wireless");
  switch (f & PCAP_IF_CONNECTION_STATUS) {
    case PCAP_IF_CONNECTION_STATUS_CONNECTED: out.emplace_back("connected"); break;
    case PCAP_IF_CONNECTION_STATUS_DISCONNECTED: out.emplace_back("disconnected"); break;
    case PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE: out.emplace_back("not-applicable"); break;
    default: break;
  }
  return out;
}

}  // namespace

std::vector<DeviceInfo> list_devices() {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_if_t* all = nullptr;
  if (pcap_findalldevs(&all, errbuf) != 0) {
    throw CaptureError(ErrorKind::kInterface, std::string("cannot list interfaces: ") + errbuf);
  }
  std::vector<DeviceInfo> out;
  for (pcap_if_t* d = all; d != nullptr; d = d->next) {
    DeviceInfo info;
    info.name = d->name;
    if (d->description) info.description = d->description;
    info.flags = flag_names(d->flags);
    for (pcap_addr_t* a = d->addresses; a != nullptr; a = a->next) {
      if (a->addr == nullptr) continue;
      DeviceAddress addr;
      addr.family = family_name(a->addr->sa_family);
      addr.address = sockaddr_text(a->addr);
      addr.netmask = sockaddr_text(a->netmask);
      addr.broadcast = sockaddr_text(a->broadaddr);
      addr.destination = sockaddr_text(a->dstaddr);
      if (addr.family == "inet" || addr.family == "inet6") info.addresses.push_back(addr);
    }
    out.push_back(std::move(info));
  }
  pcap_freealldevs(all);
  return out;
}

}  // namespace podspan

namespace podspan {
const char* pcap_lib_version_text() { return pcap_lib_version(); }
}  // namespace podspan
