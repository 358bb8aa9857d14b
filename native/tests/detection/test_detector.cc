// The Detector's kinds on synthetic traffic, by capture time: each fires on its attack (naming
// the right server, source or route, in the second min_seconds of it have passed) and clears
// after it, and steady normal traffic (Poisson-like 2000 req/s for ten minutes, completing
// handshakes, a resolver's answers) never alerts. Alerts serialise to valid JSON lines.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "heap.h"
#include "kept_records.h"
#include "strict_json.h"
#include "analysis/json_records.h"
#include "detection/detector.h"
#include "detection/synthetic.h"

using namespace podspan;
using namespace podspan_test::synthetic;

namespace {

HttpRecord request(uint32_t client, uint32_t server, uint16_t port, const std::string& route, int status, uint64_t ts) {
  HttpRecord r;
  r.ends.ip_version = 4;
  set_addr(r.ends.client, client);
  set_addr(r.ends.server, server);
  r.ends.client_port = 40000;
  r.ends.server_port = port;
  r.route = route;
  r.status = status;
  r.ts = ts;
  return r;
}

// The defaults, but with three seconds over to fire for the packet kinds too (the defaults fire a
// syn_flood after 2 and a port_scan after 1): the fire and clear seconds below count from 3.
DetectConfig three_second_rules() {
  DetectConfig c;
  c.syn_flood.min_seconds = 3;
  c.port_scan.min_seconds = 3;
  return c;
}

struct Run {
  podspan_test::KeptRecords out;
  Detector det;
  explicit Run(const DetectConfig& c = three_second_rules()) : det(c, out) {}
  // n connections to server:port in second s, from rotating clients; `complete`: each handshake completes.
  void connections(uint64_t s, int n, uint32_t server, uint16_t port, bool complete, uint32_t first_client = 1000) {
    for (int i = 0; i < n; ++i) {
      const uint64_t ts = at(s, i, n);
      const uint32_t client = first_client + i % 50;
      const uint16_t sport = static_cast<uint16_t>(20000 + (s * 131 + i) % 40000);
      det.on_tcp_packet(tcp(client, sport, server, port, kSyn), ts);
      if (complete) {
        det.on_tcp_packet(tcp(server, port, client, sport, kSyn | kAck), ts + 1000);
        uint8_t addr[16] = {0};
        set_addr(addr, server);
        det.on_handshake(4, addr, port, ts + 2000);
      }
    }
  }
  std::vector<AlertRecord> of(AlertKind k) const {
    std::vector<AlertRecord> v;
    for (const auto& a : out.alerts)
      if (a.kind == k) v.push_back(a);
    return v;
  }
  std::vector<AlertRecord> fired(AlertKind k) const {
    std::vector<AlertRecord> v;
    for (const auto& a : of(k))
      if (!a.cleared) v.push_back(a);
    return v;
  }
  std::string lines() const {
    std::string s;
    for (const auto& a : out.alerts) append_json(s, a);
    return s;
  }
};

std::string addr_text(const uint8_t* a) {
  std::string s;
  append_address(s, 4, a);
  return s;
}

}  // namespace

TEST(syn_flood_fires_after_min_seconds_names_the_server_and_clears) {
  Run r;
  const uint32_t server = 0x0102;  // 10.0.1.2
  for (uint64_t s = 0; s < 60; ++s) r.connections(s, 60, server, 443, true);  // over its admission: known from second 0
  for (uint64_t s = 60; s < 80; ++s) {
    r.connections(s, 60, server, 443, true);
    r.connections(s, 3000, server, 443, false, 500000);  // SYNs nobody completes
  }
  for (uint64_t s = 80; s < 100; ++s) r.connections(s, 60, server, 443, true);
  r.det.finish();
  const auto a = r.of(AlertKind::kSynFlood);
  CHECK_EQ(r.out.alerts.size(), 2u);
  CHECK_EQ(a.size(), 2u);
  if (a.size() != 2) return;
  CHECK(!a[0].cleared);
  CHECK_EQ(a[0].id, 1u);
  CHECK_EQ(a[0].ts, at(62));  // seconds 60, 61, 62 over: min_seconds 3
  CHECK_EQ(addr_text(a[0].ends.server), std::string("\"10.0.1.2\""));
  CHECK_EQ(a[0].ends.server_port, 443);
  CHECK(a[0].has_server && !a[0].has_source);
  CHECK_EQ(a[0].rate, 3060.0);
  CHECK(a[0].share > 0.98);
  // 60 seconds of 60 learnt from nothing (half-life 300 s); the 2 seconds over before firing are not.
  const double learnt = 60 * (1 - Decay(300).beta_pow(60));
  CHECK(std::fabs(a[0].baseline - learnt) < 1e-9);
  CHECK(a[1].cleared);
  CHECK_EQ(a[1].id, 1u);
  CHECK_EQ(a[1].ts, at(84));  // seconds 80..84 below: clear_seconds 5
  CHECK_EQ(a[1].started, at(62));
  CHECK_EQ(a[1].rate, 3060.0);  // the peak
  const DetectStats st = r.det.stats();
  CHECK_EQ(st.alerts_fired, 1u);
  CHECK_EQ(st.alerts_cleared, 1u);
  CHECK_EQ(st.active_alerts, 0u);
}

TEST(syn_flood_of_completed_handshakes_does_not_fire) {
  Run r;
  for (uint64_t s = 0; s < 30; ++s) r.connections(s, 20, 0x0102, 80, true);
  for (uint64_t s = 30; s < 60; ++s) r.connections(s, 5000, 0x0102, 80, true);  // a connection storm, all answered
  r.det.finish();
  CHECK_EQ(r.out.alerts.size(), 0u);
}

TEST(syn_flood_baseline_does_not_learn_while_alerting) {
  Run r;
  const uint32_t server = 0x0203;
  for (uint64_t s = 0; s < 100; ++s) r.connections(s, 60, server, 80, true);
  for (uint64_t s = 100; s < 1000; ++s) r.connections(s, 1000, server, 80, false, 500000);  // 3 half-lives
  for (uint64_t s = 1000; s < 1010; ++s) r.connections(s, 60, server, 80, true);
  for (uint64_t s = 1010; s < 1020; ++s) r.connections(s, 1000, server, 80, false, 500000);
  r.det.finish();
  const auto a = r.of(AlertKind::kSynFlood);
  CHECK_EQ(a.size(), 4u);  // fired, cleared, fired again (the flood was not learnt as normal), cleared at the end
  if (a.size() != 4) return;
  CHECK_EQ(a[1].baseline, a[0].baseline);
  CHECK(a[1].baseline > 10 && a[1].baseline < 61);
  CHECK_EQ(a[2].ts, at(1012));
  CHECK(!a[2].cleared);
  CHECK(a[1].cleared_by == ClearCause::kQuiet);
  // Still firing when the capture ended: cleared then, in the capture's last second.
  CHECK(a[3].cleared && a[3].cleared_by == ClearCause::kCaptureEnd);
  CHECK_EQ(a[3].id, a[2].id);
  CHECK_EQ(a[3].ts, at(1019));
  CHECK_EQ(a[3].started, at(1012));
  CHECK_EQ(r.det.stats().active_alerts, 0u);
}

TEST(alerting_key_clears_over_a_long_silence) {
  Run r;
  for (uint64_t s = 0; s < 10; ++s) r.connections(s, 1000, 0x0102, 80, false);
  r.connections(3600, 20, 0x0102, 80, true);  // an hour later
  r.det.finish();
  const auto a = r.of(AlertKind::kSynFlood);
  CHECK_EQ(a.size(), 2u);
  if (a.size() == 2) CHECK_EQ(a[1].ts, at(14));  // silent seconds 10..14
}

TEST(port_scan_fires_for_the_source_and_answered_connections_do_not) {
  Run r;
  const uint32_t scanner = 0x0909, proxy = 0x0808;
  for (uint64_t s = 0; s < 20; ++s) {
    for (int i = 0; i < 200; ++i) {
      const uint64_t ts = at(s, i, 200);
      const uint16_t port = static_cast<uint16_t>(1 + (s * 200 + i) % 1024);
      r.det.on_tcp_packet(tcp(scanner, 55555, 0x0102, port, kSyn), ts);
      r.det.on_tcp_packet(tcp(0x0102, port, scanner, 55555, kRst | kAck), ts + 500);  // closed port
      // A proxy fanning out to 200 backends a second, every one answered.
      const uint32_t backend = 0x3000 + i;
      r.det.on_tcp_packet(tcp(proxy, static_cast<uint16_t>(30000 + i), backend, 8080, kSyn), ts);
      r.det.on_tcp_packet(tcp(backend, 8080, proxy, static_cast<uint16_t>(30000 + i), kSyn | kAck), ts + 700);
    }
  }
  r.det.finish();
  const auto a = r.fired(AlertKind::kPortScan);
  CHECK_EQ(a.size(), 1u);
  if (a.empty()) return;
  CHECK_EQ(addr_text(a[0].ends.client), std::string("\"10.0.9.9\""));
  CHECK(a[0].has_source && !a[0].has_server);
  CHECK_EQ(a[0].rate, 200.0);
  CHECK_EQ(a[0].share, 1.0);  // rejected share
  CHECK_EQ(a[0].ts, at(2));
  // The scan went on to the end of the capture: its alert clears then.
  const auto all = r.of(AlertKind::kPortScan);
  CHECK_EQ(all.size(), 2u);
  if (all.size() == 2) CHECK(all[1].cleared_by == ClearCause::kCaptureEnd);
  // One SYN per scanned port or backend a second: under the servers' admission, no keys made.
  CHECK_EQ(r.det.stats().servers, 0u);
  CHECK_EQ(r.det.stats().sources, 2u);
}

TEST(port_scan_counts_udp_probes_and_not_a_resolvers_answers) {
  Run r;
  for (uint64_t s = 0; s < 10; ++s) {
    for (int i = 0; i < 100; ++i) {
      const uint64_t ts = at(s, i, 100);
      r.det.on_udp(udp(0x0707, 61000, 0x0102, static_cast<uint16_t>(1 + i + s * 100)), ts);
      // A resolver answering 100 clients a second from port 53: not probes.
      r.det.on_udp(udp(0x0053, 53, 0x4000 + i, static_cast<uint16_t>(30000 + s)), ts);
    }
  }
  r.det.finish();
  const auto a = r.fired(AlertKind::kPortScan);
  CHECK_EQ(a.size(), 1u);
  if (!a.empty()) CHECK_EQ(addr_text(a[0].ends.client), std::string("\"10.0.7.7\""));
}

TEST(request_surge_names_the_route_and_the_server) {
  Run r;
  const uint32_t server = 0x0505;
  const char* routes[] = {"/a", "/b", "/c", "/d", "/login"};
  for (uint64_t s = 0; s < 300; ++s) {
    const int login = s >= 200 && s < 220 ? 3000 : 40;
    for (int i = 0; i < 160 + login; ++i) {
      const char* route = i < 160 ? routes[i % 4] : routes[4];
      r.det.on_http(request(100 + i % 20, server, 8080, route, 200, at(s, i, 160 + login)));
    }
  }
  r.det.finish();
  const auto a = r.of(AlertKind::kRequestSurge);
  CHECK_EQ(a.size(), 4u);  // route and server, each fired and cleared
  int route_fired = 0, server_fired = 0;
  for (const auto& x : a) {
    if (x.cleared) continue;
    CHECK_EQ(x.ts, at(202));
    CHECK_EQ(x.ends.server_port, 8080);
    if (x.route == "/login") {
      ++route_fired;
      CHECK_EQ(x.rate, 3000.0);
    } else if (x.route.empty()) {
      ++server_fired;
      CHECK_EQ(x.rate, 3160.0);
    }
  }
  CHECK_EQ(route_fired, 1);
  CHECK_EQ(server_fired, 1);
  CHECK_EQ(r.of(AlertKind::kNoisyClient).size(), 0u);
}

TEST(error_surge_fires_on_the_share_of_errors) {
  Run r;
  for (uint64_t s = 0; s < 200; ++s) {
    const bool bad = s >= 150 && s < 160;
    for (int i = 0; i < 500; ++i) {
      const int status = (bad ? i % 2 == 0 : i % 100 == 0) ? 503 : 200;
      r.det.on_http(request(100 + i % 20, 0x0606, 80, "/api", status, at(s, i, 500)));
    }
  }
  r.det.finish();
  const auto a = r.of(AlertKind::kErrorSurge);
  CHECK_EQ(a.size(), 2u);
  if (a.size() != 2) return;
  CHECK_EQ(a[0].ts, at(152));
  CHECK_EQ(a[0].rate, 250.0);
  CHECK_EQ(a[0].share, 0.5);
  CHECK(a[1].cleared);
  CHECK_EQ(r.of(AlertKind::kRequestSurge).size(), 0u);
}

TEST(noisy_client_names_the_server_and_the_source) {
  Run r;
  for (uint64_t s = 0; s < 200; ++s) {
    const int loud = s >= 150 && s < 170 ? 400 : 30;
    const int n = 9 * 30 + loud;
    for (int i = 0; i < n; ++i) {
      const uint32_t client = i < 270 ? 100 + i % 9 : 0x0a0b;
      r.det.on_http(request(client, 0x0606, 80, "", 200, at(s, i, n)));
    }
  }
  r.det.finish();
  const auto a = r.of(AlertKind::kNoisyClient);
  CHECK_EQ(a.size(), 2u);
  if (a.empty()) return;
  CHECK_EQ(addr_text(a[0].ends.client), std::string("\"10.0.10.11\""));
  CHECK_EQ(addr_text(a[0].ends.server), std::string("\"10.0.6.6\""));
  CHECK(a[0].has_server && a[0].has_source);
  CHECK(a[0].rate > 0.59 && a[0].rate < 0.6);  // 400 of 670
  CHECK_EQ(a[0].ts, at(154));  // min_seconds 5
}

TEST(steady_normal_traffic_for_ten_minutes_never_alerts) {
  Run r;
  std::mt19937 rng(14);
  std::poisson_distribution<int> reqs(2000), conns(100), dns(300);
  std::uniform_int_distribution<int> client(0, 39);
  const char* routes[] = {"/api/items/{id}", "/api/cart", "/health", "/"};
  for (uint64_t s = 0; s < 600; ++s) {
    const int n = reqs(rng);
    for (int i = 0; i < n; ++i) {
      const int status = rng() % 100 == 0 ? 500 : 200;  // 1% errors: 20/s, over the floor, under the share
      r.det.on_http(request(200 + client(rng), 0x0101, 8080, routes[rng() % 4], status, at(s, i, n)));
    }
    r.connections(s, conns(rng), 0x0101, 8080, true, 200);
    const int q = dns(rng);
    for (int i = 0; i < q; ++i) {
      r.det.on_udp(udp(200 + client(rng), static_cast<uint16_t>(30000 + rng() % 30000), 0x0053, 53), at(s, i, q));
      r.det.on_udp(udp(0x0053, 53, 200 + client(rng), static_cast<uint16_t>(30000 + rng() % 30000)), at(s, i, q));
    }
  }
  r.det.finish();
  CHECK_EQ(r.out.alerts.size(), 0u);
  for (const auto& a : r.out.alerts) std::fprintf(stderr, "  unexpected: %s", [&] { std::string l; append_json(l, a); return l; }().c_str());
}

TEST(alert_lines_are_valid_json_with_the_contract_fields) {
  Run r;
  KeptEvidence ev;  // a recorder: the real EvidenceRecorder is tested on its own
  r.det.set_evidence(&ev);
  for (uint64_t s = 0; s < 10; ++s) r.connections(s, 1000, 0x0102, 80, false);
  for (uint64_t s = 10; s < 20; ++s) r.connections(s, 5, 0x0102, 80, true);
  r.det.finish();
  const std::string out = r.lines();
  size_t lines = 0;
  CHECK(podspan_test::strict_json_lines(out, lines));
  CHECK_EQ(lines, 2u);
  CHECK_EQ(ev.names.size(), 1u);
  if (ev.names.size() != 1) return;
  CHECK_EQ(ev.names[0], std::string("A1-syn_flood"));
  CHECK_EQ(ev.ts[0], at(2));
  CHECK(ev.comments[0].find("syn_flood") != std::string::npos);
  CHECK(ev.comments[0].find("server 10.0.1.2:80") != std::string::npos);
  CHECK(ev.comments[0].find("rate 1000.000 syn/s") != std::string::npos);
  CHECK(ev.comments[0].find("baseline 0.000") != std::string::npos);
  const std::string fired = out.substr(0, out.find('\n') + 1);
  CHECK_EQ(fired, std::string("{\"ts\":\"2026-09-21T14:13:22.000000000Z\",\"kind\":\"syn_flood\",\"alert_id\":\"A1\",\"state\":\"fired\","
                              "\"server\":\"10.0.1.2\",\"server_port\":80,\"source\":null,\"route\":null,\"rate\":1000.000,"
                              "\"baseline\":0.000,\"threshold\":200.000,\"unit\":\"syn/s\",\"share\":1.000,"
                              "\"evidence\":\"evidence/A1-syn_flood.pcapng\",\"started\":null,\"duration_s\":null,\"cleared_by\":null}\n"));
  const std::string cleared = out.substr(fired.size());
  CHECK(cleared.find("\"state\":\"cleared\"") != std::string::npos);
  CHECK(cleared.find("\"alert_id\":\"A1\"") != std::string::npos);
  CHECK(cleared.find("\"started\":\"2026-09-21T14:13:22.000000000Z\"") != std::string::npos);
  CHECK(cleared.find("\"duration_s\":12.000") != std::string::npos);
  CHECK(cleared.find("\"evidence\":null") != std::string::npos);
  CHECK(cleared.find("\"cleared_by\":\"quiet\"}") != std::string::npos);
}

TEST(a_million_spoofed_sources_stay_within_the_caps) {
  // One SYN each: no source reaches its admission (a quarter of the scan floor), so none gets a
  // key; the flood itself is one server's syn_flood.
  DetectConfig c;
  Run r(c);
  uint32_t src = 1;
  for (uint64_t s = 0; s < 10; ++s)
    for (int i = 0; i < 100000; ++i) r.det.on_tcp_packet(tcp(0x100000 + src++, 1024, 0x0102, 80, kSyn), at(s, i, 100000));
  r.det.finish();
  DetectStats st = r.det.stats();
  CHECK_EQ(src - 1, 1000000u);
  CHECK_EQ(st.sources, 0u);
  CHECK_EQ(st.servers, 1u);
  CHECK_EQ(r.fired(AlertKind::kSynFlood).size(), 1u);
  CHECK(st.reserved_bytes < 32u << 20);

  // Eight SYNs each to eight ports (admitted, under the scan floor): the table fills to its cap
  // and the least recently active sources go, counted, with no allocation once warm.
  Run m(c);
  src = 1;
  auto sources = [&](uint64_t s, int n) {
    for (int i = 0; i < n; ++i, ++src)
      for (uint16_t p = 1; p <= 8; ++p) m.det.on_tcp_packet(tcp(0x100000 + src, 1024, 0x0102, p, kSyn), at(s, i, n));
  };
  sources(0, 70000);
#ifdef PODSPAN_GLIBC_MALLOC
  const size_t heap_before = mallinfo2().uordblks;
#endif
  for (uint64_t s = 1; s <= 10; ++s) sources(s, 93000);
  m.det.finish();
#ifdef PODSPAN_GLIBC_MALLOC
  CHECK(mallinfo2().uordblks < heap_before + 64 * 1024);
#endif
  st = m.det.stats();
  CHECK_EQ(src - 1, 1000000u);
  CHECK_EQ(st.sources, c.max_sources);
  CHECK_EQ(st.evicted_sources, 1000000u - c.max_sources);
  CHECK_EQ(st.servers, 8u);
  CHECK_EQ(m.of(AlertKind::kPortScan).size(), 0u);
}

TEST(an_alerting_key_evicted_clears_with_its_id) {
  DetectConfig c;
  c.max_servers = 2;
  Run r(c);
  for (uint64_t s = 0; s < 5; ++s) r.connections(s, 1000, 0x0102, 80, false);  // fires at second 2
  // Two other servers, more recently active: the flooded one is the least recently active.
  r.connections(5, 60, 0x0103, 80, true);  // past their admission (50 SYNs a second): keys
  r.connections(5, 60, 0x0104, 80, true);
  r.det.finish();
  const auto a = r.of(AlertKind::kSynFlood);
  CHECK_EQ(a.size(), 2u);
  if (a.size() != 2) return;
  CHECK(a[1].cleared);
  CHECK_EQ(a[1].id, a[0].id);
  CHECK_EQ(a[1].ts, at(5));
  CHECK_EQ(addr_text(a[1].ends.server), std::string("\"10.0.1.2\""));
  const DetectStats st = r.det.stats();
  CHECK_EQ(st.evicted_servers, 1u);
  CHECK_EQ(st.active_alerts, 0u);
}
