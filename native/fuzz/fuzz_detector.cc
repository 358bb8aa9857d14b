// libFuzzer target: a script of packets, handshakes, datagrams and HTTP records (addresses from a
// small space so keys collide, times that jump far ahead or run backwards, tiny caps so keys are
// evicted, rules with small floors so alerts fire) fed to the Detector. Checked: every alert line
// is one valid JSON object (tests/strict_json.h); ids fire in order 1, 2, ...; a cleared line
// names an active alert of the same kind, once; alert times never run backwards; fired minus
// cleared equals the active count; the tables never exceed their caps.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "../tests/strict_json.h"
#include "analysis/json_records.h"
#include "detection/detector.h"

namespace {

struct Script {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(byte() | byte() << 8); }
  std::string str() {
    const size_t len = byte() % 48;
    std::string s;
    for (size_t i = 0; i < len && n; ++i) s.push_back(static_cast<char>(byte()));
    return s;
  }
};

struct Checked : podspan::RecordSink {
  std::map<uint64_t, podspan::AlertKind> active;
  uint64_t next_id = 1, last_ts = 0, fired = 0, cleared = 0;
  std::string line;
  void flow(const podspan::FlowRecord&) override {}
  void http(const podspan::HttpRecord&) override {}
  void dns(const podspan::DnsRecord&) override {}
  void alert(const podspan::AlertRecord& a) override {
    if (a.ts < last_ts) __builtin_trap();
    last_ts = a.ts;
    if (!a.cleared) {
      if (a.id != next_id++) __builtin_trap();
      active[a.id] = a.kind;
      ++fired;
    } else {
      const auto it = active.find(a.id);
      if (it == active.end() || it->second != a.kind || a.started > a.ts) __builtin_trap();
      active.erase(it);
      ++cleared;
    }
    line.clear();
    podspan::append_json(line, a);
    size_t lines = 0;
    if (!podspan_test::strict_json_lines(line, lines) || lines != 1) __builtin_trap();
  }
};

void set_addr(uint8_t* a, uint8_t ip_version, uint8_t host) {
  std::memset(a, 0, 16);
  a[0] = ip_version == 6 ? 0x20 : 10;
  a[ip_version == 6 ? 15 : 3] = host % 8;
}

podspan::DetectRule rule(Script& in) {
  podspan::DetectRule r;
  r.floor = in.byte() % 6;
  r.k = (in.byte() % 16) / 2.0;
  r.min_seconds = in.byte() % 4;
  r.clear_seconds = in.byte() % 5;
  r.share = (in.byte() % 11) / 10.0;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  Script in{data, size};
  DetectConfig c;
  c.baseline_halflife_s = 1 + in.byte() * 4;
  c.warmup_seconds = in.byte() % 4;
  c.syn_flood = rule(in);
  c.port_scan = rule(in);
  c.request_surge = rule(in);
  c.error_surge = rule(in);
  c.noisy_client = rule(in);
  c.max_servers = 1 + in.byte() % 4;
  c.max_routes = 1 + in.byte() % 4;
  c.max_sources = 1 + in.byte() % 4;
  c.max_pairs = 1 + in.byte() % 4;
  Checked out;
  {
    Detector det(c, out);
    uint64_t ts = 1700000000ull * 1000000000ull;
    while (in.n) {
      const uint8_t op = in.byte();
      // Time: mostly small steps, sometimes far ahead, sometimes back.
      const uint8_t dt = in.byte();
      if (dt == 255) ts += static_cast<uint64_t>(in.u16()) * 1000000000ull;
      else if (dt == 254) ts -= std::min<uint64_t>(ts, 3000000000ull);
      else ts += dt * 10000000ull;
      const uint8_t ip_version = (op & 0x80) ? 6 : 4;
      Decoded d;
      d.ip_version = ip_version;
      set_addr(d.src, ip_version, in.byte());
      set_addr(d.dst, ip_version, in.byte());
      d.sport = in.byte() % 4;
      d.dport = in.byte() % 4;
      switch (op % 5) {
        case 0:
          d.protocol = 6;
          d.tcp_flags = in.byte();
          det.on_tcp_packet(d, ts);
          break;
        case 1:
          det.on_handshake(ip_version, d.dst, d.dport, ts);
          break;
        case 2:
          d.protocol = 17;
          det.on_udp(d, ts);
          break;
        default: {
          HttpRecord r;
          r.ends.ip_version = ip_version;
          std::memcpy(r.ends.client, d.src, 16);
          std::memcpy(r.ends.server, d.dst, 16);
          r.ends.server_port = d.dport;
          r.ts = ts;
          r.route = in.str();
          r.status = in.byte() * 3;
          r.grpc_status = static_cast<int>(in.byte() % 20) - 1;
          det.on_http(r);
          break;
        }
      }
    }
    det.finish();
    const DetectStats s = det.stats();
    if (s.alerts_fired != out.fired || s.alerts_cleared != out.cleared || s.active_alerts != out.active.size()) __builtin_trap();
    if (s.servers > c.max_servers || s.routes > c.max_routes || s.sources > c.max_sources || s.pairs > c.max_pairs) __builtin_trap();
  }
  return 0;
}
