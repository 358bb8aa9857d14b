// The baseline's arithmetic and the alert state machine: the incremental EWMA mean and variance
// equal the weighted sums computed directly, idle seconds folded in at once equal stepping them
// one by one, and the state machine fires after exactly min_seconds over and clears after
// exactly clear_seconds below.
#include <cmath>
#include <vector>

#include "check.h"
#include "detection/baseline.h"

using namespace podspan;

namespace {
bool close_to(double a, double b, double rel = 1e-9) { return std::fabs(a - b) <= rel * std::max({1.0, std::fabs(a), std::fabs(b)}); }
}  // namespace

TEST(baseline_equals_direct_weighted_mean_and_variance) {
  const Decay d(30);
  CHECK(close_to(std::pow(d.beta, 30), 0.5));
  std::vector<double> xs;
  for (int i = 0; i < 200; ++i) xs.push_back(100 + 40 * std::sin(i * 0.7) + (i % 7) * 3);
  Baseline b;
  for (size_t i = 0; i < xs.size(); ++i) b.learn(1000 + i, xs[i], d);
  // Directly: weight alpha*beta^(n-1-i) for observation i, beta^n for the starting point (0).
  const size_t n = xs.size();
  double mean = 0, wsum = std::pow(d.beta, static_cast<double>(n));
  for (size_t i = 0; i < n; ++i) {
    const double w = d.alpha * std::pow(d.beta, static_cast<double>(n - 1 - i));
    mean += w * xs[i];
    wsum += w;
  }
  CHECK(close_to(wsum, 1.0));
  double var = std::pow(d.beta, static_cast<double>(n)) * mean * mean;  // the starting point's share
  for (size_t i = 0; i < n; ++i) var += d.alpha * std::pow(d.beta, static_cast<double>(n - 1 - i)) * (xs[i] - mean) * (xs[i] - mean);
  CHECK(close_to(b.mean, mean));
  CHECK(close_to(b.var, var));
  CHECK_EQ(b.next_second, 1000 + n);
}

TEST(baseline_idle_catch_up_equals_stepping_each_second) {
  const Decay d(300);
  for (uint64_t idle : {1ull, 2ull, 17ull, 299ull, 5000ull}) {
    Baseline lazy, stepped;
    for (int i = 0; i < 50; ++i) {
      lazy.learn(i, 500 + 20 * (i % 5), d);
      stepped.learn(i, 500 + 20 * (i % 5), d);
    }
    for (uint64_t s = 50; s < 50 + idle; ++s) stepped.learn(s, 0, d);
    lazy.catch_up(50 + idle, d);  // O(1): one pow
    CHECK(close_to(lazy.mean, stepped.mean, 1e-9));
    CHECK(close_to(lazy.var, stepped.var, 1e-7));
    lazy.learn(50 + idle, 700, d);
    stepped.learn(50 + idle, 700, d);
    CHECK(close_to(lazy.mean, stepped.mean, 1e-9));
    CHECK(close_to(lazy.var, stepped.var, 1e-7));
  }
  // Skipped (alerting) seconds are not folded in as zeros later.
  Baseline b;
  b.learn(0, 100, d);
  const double m = b.mean;
  b.skip(1);
  b.skip(2);
  b.catch_up(3, d);
  CHECK_EQ(b.mean, m);
}

TEST(thresholds_guard_sigma_with_the_poisson_spread) {
  DetectRule r{100, 6, 3, 5, 0};
  Baseline b;
  b.mean = 2000;
  b.var = 1;  // smaller than a Poisson count's: sqrt(mean) guards
  const Thresholds t = thresholds(b, r, false);
  CHECK(close_to(t.fire, 2000 + 6 * std::sqrt(2000.0)));
  CHECK(close_to(t.clear, 2000 + 3 * std::sqrt(2000.0)));
  Baseline quiet;  // nothing learnt: the floor, and half of it to clear
  CHECK_EQ(thresholds(quiet, r, false).fire, 100.0);
  CHECK_EQ(thresholds(quiet, r, false).clear, 50.0);
  DetectRule share{50, 6, 3, 5, 0.5};
  Baseline s;
  s.mean = 0.1;
  s.var = 0;  // a constant share: sigma taken as 0.02
  CHECK(close_to(thresholds(s, share, true).fire, 0.5));
  s.mean = 0.45;
  CHECK(close_to(thresholds(s, share, true).fire, 0.45 + 6 * 0.02));
}

TEST(state_machine_fires_after_exactly_min_seconds_and_clears_after_clear_seconds) {
  DetectRule r{0, 6, 3, 4, 0};
  AlertState a;
  CHECK(step_alert(a, true, false, 10, r) == AlertStep::kNone);
  CHECK(step_alert(a, true, false, 10, r) == AlertStep::kNone);
  CHECK(step_alert(a, false, true, 1, r) == AlertStep::kNone);  // interrupted: counts again
  CHECK(step_alert(a, true, false, 10, r) == AlertStep::kNone);
  CHECK(step_alert(a, true, false, 12, r) == AlertStep::kNone);
  CHECK(step_alert(a, true, false, 11, r) == AlertStep::kFire);
  a.id = 1;
  CHECK_EQ(a.peak, 11.0);
  CHECK(step_alert(a, true, false, 30, r) == AlertStep::kNone);
  CHECK_EQ(a.peak, 30.0);
  for (int i = 0; i < 3; ++i) CHECK(step_alert(a, false, true, 0, r) == AlertStep::kNone);
  CHECK(step_alert(a, false, false, 5, r) == AlertStep::kNone);  // between clear and fire: not below
  for (int i = 0; i < 3; ++i) CHECK(step_alert(a, false, true, 0, r) == AlertStep::kNone);
  CHECK(step_alert(a, false, true, 0, r) == AlertStep::kClear);
}
