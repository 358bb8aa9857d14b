// The chained program that counts sampled-out packets, run by libpcap's own BPF interpreter
// (the same semantics the kernel applies) over crafted frames.
#include <cstring>
#include <vector>

#include "capture/bpf_chain.h"
#include "check.h"

using namespace podspan;

namespace {

struct Compiled {
  bpf_program prog{};
  explicit Compiled(const char* expr) {
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
    CHECK_EQ(pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN), 0);
    pcap_close(dead);
  }
  ~Compiled() { pcap_freecode(&prog); }
};

// Ethernet + IPv4 (20 bytes) + TCP or UDP header, addresses 10.0.0.src -> 10.0.0.2.
std::vector<uint8_t> frame(uint8_t proto, uint16_t dport, uint8_t src) {
  std::vector<uint8_t> f(14 + 20 + 20 + 10, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[14 + 3] = static_cast<uint8_t>(f.size() - 14);
  f[14 + 9] = proto;
  const uint8_t addrs[8] = {10, 0, 0, src, 10, 0, 0, 2};
  std::memcpy(&f[14 + 12], addrs, 8);
  f[34] = 0x30;  // sport 12345
  f[35] = 0x39;
  f[36] = static_cast<uint8_t>(dport >> 8);
  f[37] = static_cast<uint8_t>(dport);
  return f;
}

u_int run(const std::vector<bpf_insn>& prog, const std::vector<uint8_t>& f) {
  return bpf_filter(prog.data(), f.data(), static_cast<u_int>(f.size()), static_cast<u_int>(f.size()));
}

}  // namespace

TEST(bpf_chain_marks_packets_the_rules_accept_and_sampling_leaves_out) {
  // Rules: TCP. Sampling: 1 in 2 by source address parity.
  Compiled full("tcp and (ip[15] & 1 = 0)");
  Compiled rules("tcp");
  std::vector<bpf_insn> chained;
  std::string error;
  CHECK(chain_sampled_out(full.prog, rules.prog, chained, error));
  CHECK_EQ(run(chained, frame(6, 80, 4)), 262144u);          // kept: whole snap length
  CHECK_EQ(run(chained, frame(6, 80, 5)), kSampledOutMark);  // sampled out: the marker stub
  CHECK_EQ(run(chained, frame(17, 53, 4)), 0u);              // filtered: never reaches the ring
  CHECK_EQ(run(chained, frame(17, 53, 5)), 0u);
  // The kernel's own checks: jumps stay inside and the program ends in a return.
  CHECK_EQ(bpf_validate(chained.data(), static_cast<int>(chained.size())), 1);
}

TEST(bpf_chain_with_the_agents_real_sampling_expression_counts_every_flow_once) {
  const char* sample = "((ip[12:4] ^ ip[16:4] ^ ip[((ip[0] & 0xf) << 2) : 2] ^ ip[((ip[0] & 0xf) << 2) + 2 : 2]) % 4 = 0)";
  Compiled full((std::string("tcp port 80 and ") + sample).c_str());
  Compiled rules("tcp port 80");
  std::vector<bpf_insn> chained;
  std::string error;
  CHECK(chain_sampled_out(full.prog, rules.prog, chained, error));
  int kept = 0, marked = 0, other = 0;
  for (int src = 1; src <= 200; ++src) {
    const u_int r = run(chained, frame(6, 80, static_cast<uint8_t>(src)));
    const u_int plain = run(std::vector<bpf_insn>(full.prog.bf_insns, full.prog.bf_insns + full.prog.bf_len),
                            frame(6, 80, static_cast<uint8_t>(src)));
    CHECK_EQ(r == 262144u, plain != 0);  // the chain keeps exactly what the full filter keeps
    if (r == 262144u) ++kept; else if (r == kSampledOutMark) ++marked; else ++other;
  }
  CHECK_EQ(kept + marked, 200);
  CHECK_EQ(other, 0);
  CHECK(kept > 20 && marked > 100);
  CHECK_EQ(run(chained, frame(6, 443, 8)), 0u);
}

TEST(bpf_chain_refuses_computed_returns_and_oversized_programs) {
  std::vector<bpf_insn> out;
  std::string error;
  bpf_insn ret_a[] = {{static_cast<u_short>(BPF_RET | BPF_A), 0, 0, 0}};
  bpf_insn ret_k[] = {{static_cast<u_short>(BPF_RET | BPF_K), 0, 0, 0}};
  const bpf_program a{1, ret_a}, k{1, ret_k};
  CHECK(!chain_sampled_out(a, k, out, error));
  CHECK(error.find("computed length") != std::string::npos);
  std::vector<bpf_insn> big(4096, ret_k[0]);
  const bpf_program huge{static_cast<u_int>(big.size()), big.data()};
  CHECK(!chain_sampled_out(huge, k, out, error));
  CHECK(error.find("4096") != std::string::npos);
}
