#include "capture/link_types.h"

#include <pcap/pcap.h>

#include <utility>

namespace podspan {
namespace {

// LINKTYPE_ value → this platform's DLT_ value, where they differ.
constexpr std::pair<int, int> kDiffering[] = {
    {100, DLT_ATM_RFC1483}, {101, DLT_RAW}, {102, DLT_SLIP_BSDOS}, {103, DLT_PPP_BSDOS}, {106, DLT_ATM_CLIP},
};

}  // namespace

int dlt_of_linktype(int linktype) {
  for (const auto& [file, platform] : kDiffering) {
    if (linktype == file) return platform;
  }
  return linktype;
}

int linktype_of_dlt(int dlt) {
  for (const auto& [file, platform] : kDiffering) {
    if (dlt == platform) return file;
  }
  return dlt;
}

}  // namespace podspan
