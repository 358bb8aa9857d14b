// libFuzzer target: AppAnalyzer driven by a script of stream events (open, data cut wherever
// the input says, gaps, close) on a few slots and ports, UDP DNS datagrams and expiry. Data may
// begin with a real message start (HTTP/1 request or response, an h2c Upgrade and its 101, the
// HTTP/2 preface, a DNS length prefix) so every protocol path is reached. It must not crash,
// and it must make exactly the records its counters say.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "analysis/app_analyzer.h"
#include "stream_script.h"

namespace {

struct Count : podspan::RecordSink {
  uint64_t http_count = 0, dns_count = 0;
  void flow(const podspan::FlowRecord&) override {}
  void http(const podspan::HttpRecord& r) override {
    if (r.latency != podspan::kUnknownNs && r.duration != podspan::kUnknownNs && r.duration < r.latency) __builtin_trap();
    ++http_count;
  }
  void dns(const podspan::DnsRecord&) override { ++dns_count; }
};

using podspan_fuzz::Start;
#define START PODSPAN_FUZZ_START
const Start kStarts[] = {
    START(""),
    START("GET /a/1?x HTTP/1.1\r\nHost: h\r\n\r\n"),
    START("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
    START("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    START("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    START("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    START("HEAD / HTTP/1.1\r\n\r\n"),
    START("HTTP/1.1 100 Continue\r\n\r\n"),
    START("\x00\x1d"),                                // a DNS-over-TCP length prefix
    START("\x00\x00\x00\x04\x00\x00\x00\x00\x00"),  // an HTTP/2 SETTINGS frame header
};
#undef START
const uint16_t kPorts[] = {80, 53, 50051, 8080};
constexpr int kSlots = 4;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  Count sink;
  AppAnalyzerLimits lim;
  lim.max_pending_requests = 3;
  lim.max_h2_streams = 3;
  lim.max_dns_pending = 4;
  lim.max_tcp_dns_pending = 2;
  lim.max_held_bytes = 64;
  lim.dns_timeout_ns = 100;
  AppAnalyzer a(sink, lim);
  StreamInfo info[kSlots];
  bool open[kSlots] = {false, false, false, false};
  uint64_t offset[kSlots][2] = {};
  uint64_t next_id = 1, ts = 1;
  podspan_fuzz::Script in(data, size);
  auto byte = [&]() -> uint8_t { return in.byte(); };
  std::string buf;
  while (in.more()) {
    const uint8_t op = byte() % 6;
    const int slot = byte() % kSlots;
    ts += byte();
    StreamInfo& s = info[slot];
    switch (op) {
      case 0: {
        if (open[slot]) break;
        s = StreamInfo{};
        s.id = next_id++;
        s.slot = static_cast<uint32_t>(slot);
        s.side[0].port = 40000;
        s.side[1].port = kPorts[byte() % 4];
        s.side[1].addr[15] = 1;
        open[slot] = true;
        offset[slot][0] = offset[slot][1] = 0;
        a.on_open(s);
        if (byte() & 1) a.set_client_side(s.slot, 1);
        break;
      }
      case 1:
        if (open[slot]) podspan_fuzz::data_step(a, s, offset[slot], in, kStarts, buf, ts);
        break;
      case 2:
        if (open[slot]) podspan_fuzz::gap_step(a, s, offset[slot], in);
        break;
      case 3:
        if (!open[slot]) break;
        (void)a.app_of(s.slot);
        a.on_close(s, CloseReason::kFin, ts);
        open[slot] = false;
        break;
      case 4: {
        RecordEndpoints e;
        e.client[15] = byte() & 3;
        e.server[15] = 9;
        e.client_port = 5000;
        e.server_port = 53;
        if (byte() & 1) {
          std::swap(e.client, e.server);
          std::swap(e.client_port, e.server_port);
        }
        const auto [p, n] = in.take(byte());
        a.on_udp(e, p, static_cast<uint32_t>(n), ts);
        break;
      }
      default:
        a.expire(ts);
        break;
    }
  }
  for (int slot = 0; slot < kSlots; ++slot) {
    if (open[slot]) a.on_close(info[slot], CloseReason::kEnd, ts);
  }
  a.finish(ts);
  const AppAnalyzerStats st = a.stats();
  if (st.http_records != sink.http_count || st.dns_records != sink.dns_count) __builtin_trap();
  return 0;
}
