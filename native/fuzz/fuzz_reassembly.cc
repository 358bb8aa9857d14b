// libFuzzer target: the input is a script of TCP segments on a few flows (flow, direction,
// sequence number, flags, payload); the reassembler must keep every direction's events
// contiguous (each data or gap event starts where the last one ended) and its buffers bounded.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>

#include "reassembly/reassembly.h"

namespace {

struct CheckingSink : podspan::StreamSink {
  std::map<std::pair<uint64_t, int>, uint64_t> next;
  std::map<uint32_t, uint64_t> open_slots;  // a slot names one open stream at a time
  void on_open(const podspan::StreamInfo& s) override {
    if (!open_slots.emplace(s.slot, s.id).second) __builtin_trap();
  }
  void on_data(const podspan::StreamInfo& s, int dir, uint64_t off, const uint8_t*, uint32_t n, uint64_t) override { advance(s, dir, off, n); }
  void on_gap(const podspan::StreamInfo& s, int dir, uint64_t off, uint64_t n) override { advance(s, dir, off, n); }
  void on_close(const podspan::StreamInfo& s, podspan::CloseReason, uint64_t) override {
    check_open(s);
    open_slots.erase(s.slot);
  }
  void check_open(const podspan::StreamInfo& s) {
    auto it = open_slots.find(s.slot);
    if (it == open_slots.end() || it->second != s.id) __builtin_trap();
  }
  void advance(const podspan::StreamInfo& s, int dir, uint64_t off, uint64_t n) {
    check_open(s);
    uint64_t& at = next[{s.id, dir}];
    if (off != at || n == 0) __builtin_trap();
    at += n;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  CheckingSink sink;
  ReassemblyConfig cfg;
  cfg.max_flows = 3;
  cfg.max_buffer_per_flow = 4096;
  cfg.max_buffer_total = 8192;
  cfg.idle_timeout_ns = 50;
  TcpReassembler r(cfg, sink);
  uint64_t ts = 0;
  size_t pos = 0;
  while (pos + 8 <= size) {
    const uint8_t flow = data[pos] & 3, from_client = data[pos] & 4;
    uint32_t seq;
    std::memcpy(&seq, data + pos + 1, 4);
    const uint8_t flags = data[pos + 5];
    const uint16_t len = static_cast<uint16_t>(data[pos + 6] | (data[pos + 7] & 0x07) << 8);
    pos += 8;
    const size_t have = len <= size - pos ? len : size - pos;
    Decoded d;
    d.ip_version = 4;
    d.protocol = 6;
    d.src[0] = from_client ? 1 : 2;
    d.dst[0] = from_client ? 2 : 1;
    d.sport = from_client ? 1000 + flow : 80;
    d.dport = from_client ? 80 : 1000 + flow;
    d.seq = seq;
    d.tcp_flags = flags;
    d.payload_len = len;
    d.captured_payload = static_cast<uint32_t>(have);
    r.add(d, data + pos, ts);
    pos += have;
    ts += 10;
    if (r.stats().buffered_memory > cfg.max_buffer_total + TcpReassembler::segment_cost(0xffff)) __builtin_trap();
    if ((flags & 0xc0) == 0xc0) r.expire(ts);
  }
  r.finish(ts);
  if (r.stats().buffered_bytes != 0 || r.stats().buffered_memory != 0 || r.stats().flows != 0) __builtin_trap();
  return 0;
}
