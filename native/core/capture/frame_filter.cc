#include "capture/frame_filter.h"

#include "common/errors.h"

namespace podspan {

namespace {
// pcap_open_dead takes a DLT; files and batches carry LINKTYPE_ values, which differ below 104
// (LINKTYPE_RAW is 101, DLT_RAW 12 or 14 by platform).
int dlt_of(uint16_t linktype) {
  switch (linktype) {
    case 100: return DLT_ATM_RFC1483;
    case 101: return DLT_RAW;
    default: return linktype;
  }
}
}  // namespace

FrameFilter::FrameFilter(std::string expression) : expression_(std::move(expression)) {}

FrameFilter::~FrameFilter() {
  for (auto& kv : programs_) pcap_freecode(&kv.second);
}

const bpf_program& FrameFilter::program(uint16_t linktype) {
  auto it = programs_.find(linktype);
  if (it != programs_.end()) return it->second;
  pcap_t* dead = pcap_open_dead(dlt_of(linktype), 262144);
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
