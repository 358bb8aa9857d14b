// Capturable interfaces as libpcap sees them (pcap_findalldevs), and what each can be set to.
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

// A link-layer header type (DLT) or a time stamp type, by libpcap's value, name and description.
struct PcapTypeName {
  int value = 0;
  std::string name, description;  // name "" when libpcap has none for the value
};

// pcap_activate's status `rc` (not 0) in words: libpcap's own message (pcap_geterr) where it
// gave one for a plain error or warning, else the status's text with that message beside it.
std::string activation_status(int rc, const std::string& detail);

// libpcap's value for a name (case-insensitive, e.g. "EN10MB", "host"); -1 when unknown.
int link_type_value(const std::string& name);
int timestamp_type_value(const std::string& name);
// libpcap's name and description of a LINKTYPE_ value, as files carry (both "" when it has none).
PcapTypeName link_type_named(int value);
// The link types a device offers once activated (tcpdump -L), and the time stamp types it can
// be asked for (tcpdump -J; empty: it cannot be set). Throw CaptureError(kInterface) naming the device.
std::vector<PcapTypeName> device_link_types(const std::string& device);
std::vector<PcapTypeName> device_timestamp_types(const std::string& device);

}  // namespace podspan

namespace podspan {
// libpcap's version text, e.g. "libpcap version 1.10.3 (with TPACKET_V3)".
const char* pcap_lib_version_text();
}  // namespace podspan
