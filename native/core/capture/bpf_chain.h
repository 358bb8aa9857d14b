// Counting what flow sampling leaves out, in the kernel. A classic BPF socket filter has no
// counters, and a packet it rejects is never seen, so the agent chains two programs: the full
// filter (rules and sampling) and, where it rejects, the rules alone answering with a tiny
// "marker" snap length. The kernel then hands over a stub of a sampled-out packet (a ring slot,
// no payload copy) and the capture thread counts it instead of capturing it.
#pragma once

#include <pcap/pcap.h>

#include <string>
#include <vector>

namespace podspan {

// Snap length the chained program returns for a packet the rules accept and sampling leaves out.
constexpr uint32_t kSampledOutMark = 1;

// Builds `keep` followed by `counted`: every `ret #0` of keep continues into counted, and every
// accepting return of counted becomes `ret #kSampledOutMark`. Returns false (with `error`) when
// a program returns the accumulator or the result would exceed the kernel's 4096 instructions.
bool chain_sampled_out(const bpf_program& keep, const bpf_program& counted, std::vector<bpf_insn>& out,
                       std::string& error);

}  // namespace podspan
