// What the Detector (detection/detector.h) is told: one rule per kind of detection, the baseline
// half-life and the key tables' caps. The defaults are set so that a steady, normal workload
// never trips them (a steady 2000 req/s server included); src/config validates what a user
// sets and the addon copies it here as given.
#pragma once

#include <cstddef>
#include <cstdint>

namespace podspan {

// One kind's rule. A key is "over" in a second when its rate exceeds
//   threshold = max(floor, mean + k * max(sigma, sqrt(mean)))
// (for noisy_client, a share: max(share, mean + k * max(sigma, 0.02))) and the kind's
// condition holds; min_seconds over in a row fire the alert. It clears after clear_seconds in a
// row below mean + k/2 * the same guard (and at least floor/2), or with the condition gone.
struct DetectRule {
  double floor = 0;            // rate (per second) below which the key never fires
  double k = 6;                // standard deviations above the mean
  uint32_t min_seconds = 3;    // over this long in a row to fire
  uint32_t clear_seconds = 5;  // below the clear threshold this long in a row to clear
  // The kind's second number: syn_flood halfOpenShare, port_scan rejectedShare, error_surge
  // errorShare, noisy_client share (unused by request_surge).
  double share = 0;
};

struct DetectConfig {
  bool records = true;                // false: only alerts reach JavaScript (flows/http/dns not formatted)
  double baseline_halflife_s = 300;   // EWMA half-life in capture seconds
  // request_surge, error_surge and noisy_client fire only once their server has been watched
  // this long (capture seconds): a capture that starts mid-traffic learns before it judges.
  // syn_flood and port_scan need no warm-up: their share conditions make them specific.
  uint32_t warmup_seconds = 60;
  DetectRule syn_flood{200, 6, 2, 5, 0.5};       // syn/s to server:port; halfOpenShare 0.5
  DetectRule port_scan{30, 6, 1, 5, 0.5};        // distinct targets/s from a source; rejectedShare 0.5
  DetectRule request_surge{100, 6, 3, 10, 0};    // req/s to server:port (and per route)
  DetectRule error_surge{10, 6, 3, 10, 0.2};     // 5xx + gRPC non-OK/s; errorShare 0.2
  DetectRule noisy_client{50, 6, 5, 10, 0.5};    // floor: the server's req/s; share: 0.5
  size_t max_servers = 4096, max_routes = 16384, max_sources = 65536, max_pairs = 65536;
};

}  // namespace podspan
