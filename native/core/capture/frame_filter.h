// One BPF expression applied in user space to frames that never passed a kernel filter (a file
// read with -r, what a collector's live tap hands a subscriber): libpcap compiles it once per link
// type on a dead handle and runs it as it does when reading a file (pcap_offline_filter).
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <map>
#include <string>

namespace podspan {

class FrameFilter {
 public:
  explicit FrameFilter(std::string expression);
  ~FrameFilter();
  FrameFilter(const FrameFilter&) = delete;
  FrameFilter& operator=(const FrameFilter&) = delete;

  const std::string& expression() const { return expression_; }

  // Compiles for `linktype` on first use. Throws CaptureError(kFilter), naming the expression
  // and the link type, when it does not compile.
  bool matches(uint16_t linktype, const uint8_t* frame, uint32_t caplen, uint32_t origlen);
  // Compiles for `linktype` now, to refuse a bad expression before any frame arrives.
  void compile(uint16_t linktype) { program(linktype); }
  // The compiled program for `linktype` (compiled on first use; throws as matches() does).
  const bpf_program& program(uint16_t linktype);

 private:

  std::string expression_;
  std::map<uint16_t, bpf_program> programs_;
};

// Why `expression` does not compile for `linktype` (libpcap's words, as FrameFilter throws them),
// or "" when it does. Unoptimised, the cheaper way to check before any capture (a config file, a
// command's flags); libpcap's time still grows steeply with the terms (1,000 ports ~15 s), so
// callers bound the size first (src/capture/filter-limits.ts).
std::string filter_compile_error(const std::string& expression, uint16_t linktype);

}  // namespace podspan
