#include "capture/frame_filter.h"

#include "capture/link_types.h"
#include "common/errors.h"

namespace podspan {

FrameFilter::FrameFilter(std::string expression) : expression_(std::move(expression)) {}

FrameFilter::~FrameFilter() {
  for (auto& kv : programs_) pcap_freecode(&kv.second);
}

const bpf_program& FrameFilter::program(uint16_t linktype) {
  auto it = programs_.find(linktype);
  if (it != programs_.end()) return it->second;
  // Files and batches carry LINKTYPE_ values; libpcap compiles for a DLT.
  pcap_t* dead = pcap_open_dead(dlt_of_linktype(linktype), 262144);
  if (dead == nullptr) throw CaptureError(ErrorKind::kFilter, "cannot compile a filter for link type " + std::to_string(linktype));
  bpf_program prog{};
  if (pcap_compile(dead, &prog, expression_.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    const std::string why = pcap_geterr(dead);
    pcap_close(dead);
    throw CaptureError(ErrorKind::kFilter, "filter '" + expression_ + "' (link type " + std::to_string(linktype) + "): " + why);
  }
  pcap_close(dead);
  return programs_.emplace(linktype, prog).first->second;
}

bool FrameFilter::matches(uint16_t linktype, const uint8_t* frame, uint32_t caplen, uint32_t origlen) {
  if (expression_.empty()) return true;
  pcap_pkthdr h{};
  h.caplen = caplen;
  h.len = origlen;
  return pcap_offline_filter(&program(linktype), &h, frame) != 0;
}

}  // namespace podspan
