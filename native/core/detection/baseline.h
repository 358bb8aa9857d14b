// A key's normal rate and its alert state. The baseline is an exponentially weighted mean and
// variance over per-second observations (the incremental form in T. Finch, "Incremental
// calculation of weighted mean and variance", 2009), weighted by a half-life in capture seconds.
// Seconds a key is idle count as zeros, folded in lazily when it is next touched: n zeros at once
// have a closed form (mean * b^n, b^n * (var + mean^2 * (1 - b^n)) with b the per-second decay),
// so a key costs nothing while idle. The alert state is a fire/clear state machine with a
// minimum time over the threshold and a hysteresis band for clearing.
#pragma once

#include <cstdint>

#include "detection/detect_config.h"

namespace podspan {

// The per-second weights for a half-life: beta = 0.5^(1/halflife), alpha = 1 - beta.
struct Decay {
  double alpha, beta;
  explicit Decay(double halflife_s);
  double beta_pow(uint64_t n) const;  // beta^n
};

struct Baseline {
  double mean = 0, var = 0;
  uint64_t next_second = 0;  // the first second not folded in yet

  // Starts at `second` with nothing learnt (mean 0: a new key is compared with silence).
  void start(uint64_t second) {
    mean = var = 0;
    next_second = second;
  }
  // Folds the idle seconds [next_second, second) in as zeros, in O(1).
  void catch_up(uint64_t second, const Decay& d);
  // Folds second `second`'s observation x in (after catching up to it).
  void learn(uint64_t second, double x, const Decay& d);
  // Passes second `second` without learning from it (the key is alerting).
  void skip(uint64_t second) {
    if (second >= next_second) next_second = second + 1;
  }
  double sigma() const;
};

struct Thresholds {
  double fire, clear;
};
// A rate's thresholds (see DetectRule); `share_kind`: the observation is a share in [0, 1].
Thresholds thresholds(const Baseline& b, const DetectRule& rule, bool share_kind);

// One key's alert for one kind: idle, pending (over for fewer than min_seconds) or active.
struct AlertState {
  uint64_t id = 0;          // the active alert's id; 0: none
  uint64_t started_ns = 0;  // the second it fired
  double peak = 0;          // the highest rate while active
  double threshold = 0;     // the fire threshold when it fired
  uint32_t over = 0;        // seconds over in a row (not active)
  uint32_t under = 0;       // seconds below the clear threshold in a row (active)
  bool active() const { return id != 0; }
};

enum class AlertStep : uint8_t { kNone, kFire, kClear };

// One second of a key: `over` (rate above the fire threshold, its condition holding, eligible)
// and `below` (rate under the clear threshold or the condition gone). Says whether the alert
// fires or clears now; the caller assigns the id on kFire. Learning is the caller's: only
// while not active and not over.
AlertStep step_alert(AlertState& a, bool over, bool below, double rate, const DetectRule& rule);

}  // namespace podspan
