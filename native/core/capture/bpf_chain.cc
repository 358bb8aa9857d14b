#include "capture/bpf_chain.h"

namespace podspan {

namespace {
constexpr size_t kKernelMaxInstructions = 4096;  // BPF_MAXINSNS
bool is_return(const bpf_insn& i) { return BPF_CLASS(i.code) == BPF_RET; }
}  // namespace

bool chain_sampled_out(const bpf_program& keep, const bpf_program& counted, std::vector<bpf_insn>& out,
                       std::string& error) {
  const size_t n_keep = keep.bf_len, n_counted = counted.bf_len;
  if (n_keep + n_counted > kKernelMaxInstructions) {
    error = "the filter with sampling counters needs " + std::to_string(n_keep + n_counted) +
            " BPF instructions, more than the kernel's " + std::to_string(kKernelMaxInstructions);
    return false;
  }
  out.assign(keep.bf_insns, keep.bf_insns + n_keep);
  out.insert(out.end(), counted.bf_insns, counted.bf_insns + n_counted);
  for (size_t i = 0; i < out.size(); ++i) {
    bpf_insn& in = out[i];
    if (!is_return(in)) continue;
    if (BPF_RVAL(in.code) != BPF_K) {
      error = "a filter program returns a computed length; sampled-out packets cannot be counted";
      return false;
    }
    if (i < n_keep) {
      // Rejected by the full filter: jump to the first instruction of the rules alone.
      if (in.k == 0) in = bpf_insn{static_cast<u_short>(BPF_JMP | BPF_JA), 0, 0, static_cast<bpf_u_int32>(n_keep - i - 1)};
    } else if (in.k != 0) {
      in.k = kSampledOutMark;
    }
  }
  return true;
}

}  // namespace podspan
