// Capturable interfaces as libpcap sees them (pcap_findalldevs).
#pragma once

#include <string>
#include <vector>

namespace podspan {

struct DeviceAddress {
  std::string family;  // "inet", "inet6", "packet"
  std::string address, netmask, broadcast, destination;
};

struct DeviceInfo {
  std::string name, description;
  std::vector<std::string> flags;  // "up", "running", "loopback", "wireless", "connected", ...
  std::vector<DeviceAddress> addresses;
};

// Throws CaptureError(kInterface) with libpcap's message when the list cannot be read.
std::vector<DeviceInfo> list_devices();

}  // namespace podspan

namespace podspan {
// libpcap's version text, e.g. "libpcap version 1.10.3 (with TPACKET_V3)".
const char* pcap_lib_version_text();
}  // namespace podspan
