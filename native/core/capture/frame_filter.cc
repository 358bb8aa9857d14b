#include "capture/frame_filter.h"

#include "capture/link_types.h"
#include "common/errors.h"

namespace podspan {

FrameFilter::FrameFilter(std::string expression) : expression_(std::move(expression)) {}

FrameFilter::~FrameFilter() {
  for (auto& kv : programs_) pcap_freecode(&kv.second);
}

namespace {

// Compiles on a dead handle of `linktype` into prog; "" or why not, as FrameFilter words it.
std::string compile_dead(const std::string& expression, uint16_t linktype, bool optimize, bpf_program& prog) {
  // Files and batches carry LINKTYPE_ values; libpcap compiles for a DLT.
  pcap_t* dead = pcap_open_dead(dlt_of_linktype(linktype), 262144);
  if (dead == nullptr) return "cannot compile a filter for link type " + std::to_string(linktype);
  std::string why;
  if (pcap_compile(dead, &prog, expression.c_str(), optimize ? 1 : 0, PCAP_NETMASK_UNKNOWN) != 0) {
    why = "filter '" + expression + "' (link type " + std::to_string(linktype) + "): " + pcap_geterr(dead);
  }
  pcap_close(dead);
  return why;
}

}  // namespace

const bpf_program& FrameFilter::program(uint16_t linktype) {
  auto it = programs_.find(linktype);
  if (it != programs_.end()) return it->second;
  bpf_program prog{};
  const std::string why = compile_dead(expression_, linktype, true, prog);
  if (!why.empty()) throw CaptureError(ErrorKind::kFilter, why);
  return programs_.emplace(linktype, prog).first->second;
}

std::string filter_compile_error(const std::string& expression, uint16_t linktype) {
  bpf_program prog{};
  const std::string why = compile_dead(expression, linktype, false, prog);
  if (why.empty()) pcap_freecode(&prog);
  return why;
}

bool FrameFilter::matches(uint16_t linktype, const uint8_t* frame, uint32_t caplen, uint32_t origlen) {
  if (expression_.empty()) return true;
  pcap_pkthdr h{};
  h.caplen = caplen;
  h.len = origlen;
  return pcap_offline_filter(&program(linktype), &h, frame) != 0;
}

}  // namespace podspan
