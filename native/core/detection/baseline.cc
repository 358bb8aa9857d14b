#include "detection/baseline.h"

#include <algorithm>
#include <cmath>

namespace podspan {
namespace {
constexpr double kMinShareSigma = 0.02;  // a share's sigma is never taken below this (a constant share has 0)
}

Decay::Decay(double halflife_s) {
  beta = std::pow(0.5, 1.0 / std::max(halflife_s, 1e-3));
  alpha = 1 - beta;
}

double Decay::beta_pow(uint64_t n) const { return std::pow(beta, static_cast<double>(n)); }

void Baseline::catch_up(uint64_t second, const Decay& d) {
  if (second <= next_second) return;
  const double bn = d.beta_pow(second - next_second);
  var = bn * (var + mean * mean * (1 - bn));
  mean *= bn;
  next_second = second;
}

void Baseline::learn(uint64_t second, double x, const Decay& d) {
  catch_up(second, d);
  if (second < next_second) return;  // folded in already
  const double diff = x - mean;
  const double incr = d.alpha * diff;
  mean += incr;
  var = d.beta * (var + diff * incr);
  next_second = second + 1;
}

double Baseline::sigma() const { return std::sqrt(std::max(var, 0.0)); }

Thresholds thresholds(const Baseline& b, const DetectRule& rule, bool share_kind) {
  const double guard = share_kind ? std::max(b.sigma(), kMinShareSigma) : std::max(b.sigma(), std::sqrt(std::max(b.mean, 0.0)));
  const double floor = share_kind ? rule.share : rule.floor;
  return {std::max(floor, b.mean + rule.k * guard), std::max(floor / 2, b.mean + rule.k / 2 * guard)};
}

AlertStep step_alert(AlertState& a, bool over, bool below, double rate, const DetectRule& rule) {
  if (!a.active()) {
    a.over = over ? a.over + 1 : 0;
    if (a.over < std::max<uint32_t>(rule.min_seconds, 1)) return AlertStep::kNone;
    a.over = 0;
    a.under = 0;
    a.peak = rate;
    return AlertStep::kFire;
  }
  a.peak = std::max(a.peak, rate);
  a.under = below ? a.under + 1 : 0;
  if (a.under < std::max<uint32_t>(rule.clear_seconds, 1)) return AlertStep::kNone;
  return AlertStep::kClear;  // the caller reads peak/started, then resets the state
}

}  // namespace podspan
