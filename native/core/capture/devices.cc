#include "capture/devices.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include "capture/link_types.h"
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

// pcap_create's handle, closed on every way out.
struct Handle {
  pcap_t* p = nullptr;
  explicit Handle(const std::string& device) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    p = pcap_create(device.c_str(), err);
    if (p == nullptr) throw CaptureError(ErrorKind::kInterface, device + ": " + err);
  }
  ~Handle() { pcap_close(p); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

using NameOf = const char* (*)(int);

// `value` with the name and description libpcap gives `as` (the value itself, or its DLT).
PcapTypeName type_name(int value, int as, NameOf name, NameOf description) {
  PcapTypeName t;
  t.value = value;
  if (const char* text = name(as)) t.name = text;
  if (const char* text = description(as)) t.description = text;
  return t;
}

// libpcap's list of `n` values (n < 0: its error) with their names, the list then freed.
std::vector<PcapTypeName> named(const std::string& device, pcap_t* p, int n, int* values,
                                NameOf name, NameOf description, void (*release)(int*)) {
  if (n < 0) throw CaptureError(ErrorKind::kInterface, device + ": " + pcap_geterr(p));
  std::vector<PcapTypeName> out;
  for (int i = 0; i < n; ++i) out.push_back(type_name(values[i], values[i], name, description));
  release(values);
  return out;
}

}  // namespace

std::string activation_status(int rc, const std::string& detail) {
  if ((rc == PCAP_ERROR || rc == PCAP_WARNING) && !detail.empty()) return detail;
  const std::string status = pcap_statustostr(rc);
  return detail.empty() || detail == status ? status : status + " (" + detail + ")";
}

PcapTypeName link_type_named(int value) {
  return type_name(value, dlt_of_linktype(value), pcap_datalink_val_to_name, pcap_datalink_val_to_description);
}

int link_type_value(const std::string& name) { return pcap_datalink_name_to_val(name.c_str()); }

int timestamp_type_value(const std::string& name) { return pcap_tstamp_type_name_to_val(name.c_str()); }

std::vector<PcapTypeName> device_link_types(const std::string& device) {
  Handle h(device);
  const int rc = pcap_activate(h.p);
  if (rc < 0) throw CaptureError(ErrorKind::kInterface, device + ": " + activation_status(rc, pcap_geterr(h.p)));
  int* values = nullptr;
  const int n = pcap_list_datalinks(h.p, &values);
  return named(device, h.p, n, values, pcap_datalink_val_to_name, pcap_datalink_val_to_description, pcap_free_datalinks);
}

std::vector<PcapTypeName> device_timestamp_types(const std::string& device) {
  Handle h(device);
  int* values = nullptr;
  const int n = pcap_list_tstamp_types(h.p, &values);
  return named(device, h.p, n, values, pcap_tstamp_type_val_to_name, pcap_tstamp_type_val_to_description, pcap_free_tstamp_types);
}

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
