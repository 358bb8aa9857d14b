// A session's ScanGroup: a source probing a few ports on each of many pods, each pod its own
// capture and Detector, fires one port_scan for the session (S1) that no capture's own detector
// would; it leaves through one capture, each capture records its own evidence, it clears once,
// and the last capture to finish clears what still fires. syn_flood stays each capture's own.
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "kept_records.h"
#include "detection/detector.h"
#include "detection/scan_group.h"
#include "detection/synthetic.h"

using namespace podspan;
using namespace podspan_test::synthetic;

namespace {

constexpr int kPods = 20;
constexpr uint32_t kScanner = 0x0909;  // 10.0.9.9
uint32_t pod_addr(int i) { return 0x0100 + static_cast<uint32_t>(i); }

// One capture per pod, all in one group (or none).
struct Node {
  explicit Node(bool grouped) : group(DetectConfig{}) {
    for (int i = 0; i < kPods; ++i) {
      sinks.emplace_back(new podspan_test::KeptRecords);
      evidence.emplace_back(new KeptEvidence("pod" + std::to_string(i)));
      detectors.emplace_back(new Detector(DetectConfig{}, *sinks.back()));
      detectors.back()->set_evidence(evidence.back().get());
      if (grouped) detectors.back()->set_scan_group(&group);
    }
  }
  ~Node() {
    for (auto* d : detectors) delete d;
    for (auto* s : sinks) delete s;
  }
  // Second s: the scanner sends 2 SYNs to closed ports of each pod (40 targets, floor 30), each
  // answered by RST; every pod also completes 3 ordinary connections.
  void second(uint64_t s, bool scanning) {
    for (int i = 0; i < kPods; ++i) feed_pod(i, s, scanning);
  }
  void feed_pod(int i, uint64_t s, bool scanning) {
    Detector& d = *detectors[i];
    for (int k = 0; k < 3; ++k) {
      const uint32_t client = 0x2000 + static_cast<uint32_t>(k);
      const uint64_t ts = at(s, static_cast<uint64_t>(k), 4);
      d.on_tcp_packet(tcp(client, 40000, pod_addr(i), 8080, kSyn), ts);
      d.on_tcp_packet(tcp(pod_addr(i), 8080, client, 40000, kSyn | kAck), ts + 1000);
    }
    if (!scanning) return;
    for (uint16_t port : {uint16_t(22), uint16_t(3306)}) {
      const uint64_t ts = at(s, 3, 4) + port;
      d.on_tcp_packet(tcp(kScanner, 50000, pod_addr(i), port, kSyn), ts);
      d.on_tcp_packet(tcp(pod_addr(i), port, kScanner, 50000, kRst | kAck), ts + 500);
    }
  }
  void finish() {
    for (auto* d : detectors) d->finish();
  }
  std::vector<AlertRecord> all(AlertKind kind) const {
    std::vector<AlertRecord> v;
    for (auto* s : sinks)
      for (const auto& a : s->alerts)
        if (a.kind == kind) v.push_back(a);
    return v;
  }
  ScanGroup group;
  std::vector<podspan_test::KeptRecords*> sinks;
  std::vector<std::unique_ptr<KeptEvidence>> evidence;
  std::vector<Detector*> detectors;
};

}  // namespace

TEST(scan_group_sees_a_scan_spread_over_many_pods_that_no_capture_sees_alone) {
  for (bool grouped : {false, true}) {
    Node n(grouped);
    for (uint64_t s = 0; s < 10; ++s) n.second(s, false);
    for (uint64_t s = 10; s < 20; ++s) n.second(s, true);
    for (uint64_t s = 20; s < 40; ++s) n.second(s, false);
    n.finish();
    const auto a = n.all(AlertKind::kPortScan);
    if (!grouped) {
      CHECK_EQ(a.size(), 0u);  // 2 targets a second in each capture
      continue;
    }
    CHECK_EQ(a.size(), 2u);  // fired once, cleared once, for the whole session
    if (a.size() != 2) continue;
    CHECK(!a[0].cleared && a[1].cleared);
    CHECK_EQ(a[0].id_prefix, 'S');
    CHECK_EQ(a[0].id, 1u);
    CHECK_EQ(a[1].id, 1u);
    CHECK(a[1].cleared_by == ClearCause::kQuiet);
    CHECK_EQ(a[0].rate, 40.0);  // every pod's two ports
    CHECK_EQ(a[0].share, 1.0);  // all rejected
    CHECK_EQ(a[0].ts, at(10));  // min_seconds 1
    CHECK_EQ(std::string(reinterpret_cast<const char*>(a[0].ends.client), 4), std::string("\x0a\x00\x09\x09", 4));
    // Every capture recorded its own evidence of it, once; the line names the reporter's file.
    int reporter = -1;
    for (int i = 0; i < kPods; ++i) {
      CHECK_EQ(n.evidence[i]->names.size(), 1u);
      if (!n.evidence[i]->names.empty()) CHECK_EQ(n.evidence[i]->names[0], std::string("S1-port_scan"));
      for (const auto& x : n.sinks[i]->alerts)
        if (x.kind == AlertKind::kPortScan && !x.cleared) reporter = i;
    }
    CHECK(reporter >= 0);
    CHECK_EQ(a[0].evidence, "pod" + std::to_string(reporter) + "/S1-port_scan.pcapng");
    // The captures' own detectors keep syn_flood only: no source keys there.
    for (auto* d : n.detectors) CHECK_EQ(d->stats().sources, 0u);
    CHECK_EQ(n.group.stats().alerts_fired, 1u);
    CHECK_EQ(n.group.stats().active_alerts, 0u);
  }
}

TEST(scan_group_alert_still_firing_clears_when_the_last_capture_finishes) {
  Node n(true);
  for (uint64_t s = 0; s < 5; ++s) n.second(s, true);
  for (int i = 0; i + 1 < kPods; ++i) n.detectors[i]->finish();
  CHECK_EQ(n.all(AlertKind::kPortScan).size(), 1u);  // members left; the last is still capturing
  n.detectors[kPods - 1]->finish();
  const auto a = n.all(AlertKind::kPortScan);
  CHECK_EQ(a.size(), 2u);
  if (a.size() == 2) {
    CHECK(a[1].cleared && a[1].cleared_by == ClearCause::kCaptureEnd);
    CHECK_EQ(n.sinks[kPods - 1]->alerts.back().cleared, true);  // through the last one out
  }
}

TEST(scan_group_leaves_syn_flood_to_each_capture) {
  Node n(true);
  for (uint64_t s = 0; s < 10; ++s) {
    n.second(s, false);
    for (int i = 0; i < 1000; ++i)  // spoofed SYNs against pod 3 only
      n.detectors[3]->on_tcp_packet(tcp(0x300000 + static_cast<uint32_t>(i), 1024, pod_addr(3), 8080, kSyn), at(s, i, 1000));
  }
  n.finish();
  CHECK_EQ(n.all(AlertKind::kSynFlood).size(), 2u);  // fired, and cleared at the end
  size_t in_pod3 = 0;
  for (const auto& x : n.sinks[3]->alerts) in_pod3 += x.kind == AlertKind::kSynFlood;
  CHECK_EQ(in_pod3, 2u);
  CHECK_EQ(n.all(AlertKind::kPortScan).size(), 0u);  // one SYN per spoofed source
}

TEST(scan_group_takes_probes_from_capture_threads_at_once) {
  // Two captures on their own threads, as the agent runs them: one alert, counted once.
  ScanGroup group(DetectConfig{});
  podspan_test::KeptRecords out[2];
  KeptEvidence ev[2] = {KeptEvidence("a"), KeptEvidence("b")};
  std::vector<std::unique_ptr<Detector>> dets;
  for (int t = 0; t < 2; ++t) {
    dets.emplace_back(new Detector(DetectConfig{}, out[t]));
    dets.back()->set_evidence(&ev[t]);
    dets.back()->set_scan_group(&group);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t s = 0; s < 30; ++s)
        for (int i = 0; i < 500; ++i) {
          const uint16_t port = static_cast<uint16_t>(1 + (t * 500 + i));
          dets[t]->on_tcp_packet(tcp(kScanner, 50000, pod_addr(t), port, kSyn), at(s, i, 500));
        }
      dets[t]->finish();
    });
  }
  for (auto& th : threads) th.join();
  size_t fired = 0, cleared = 0;
  for (const auto& o : out)
    for (const auto& a : o.alerts) (a.cleared ? cleared : fired) += 1;
  CHECK_EQ(fired, 1u);
  CHECK_EQ(cleared, 1u);
  CHECK_EQ(ev[0].names.size() + ev[1].names.size(), 2u);  // each capture its own file
  CHECK_EQ(group.stats().active_alerts, 0u);
}
