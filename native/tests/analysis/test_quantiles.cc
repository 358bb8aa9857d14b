// values_at_ranks (analysis/quantiles.h) against a sort: the same values at the same ranks for
// several orders of data and sizes, ranks repeated, and only the first n values read.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.h"
#include "analysis/quantiles.h"

using namespace podspan;

namespace {
size_t rank_of(double q, size_t n) { return static_cast<size_t>(std::max(0.0, std::ceil(q * static_cast<double>(n)) - 1)); }
}  // namespace

TEST(values_at_ranks_equals_a_sort) {
  uint32_t seed = 7;
  auto random = [&] {
    seed = seed * 1103515245u + 12345u;
    return static_cast<double>((seed >> 8) % 100000) / 1000.0;
  };
  const std::vector<double (*)(size_t, size_t)> orders = {
      [](size_t i, size_t) { return static_cast<double>(i); },                 // sorted
      [](size_t i, size_t n) { return static_cast<double>(n - i); },           // reversed
      [](size_t, size_t) { return 3.5; },                                      // all equal
      [](size_t i, size_t) { return static_cast<double>(i % 3); },             // few distinct
      [](size_t i, size_t n) { return i < n / 2 ? 1.0 * i : 1.0 * (n - i); },  // up then down
  };
  for (size_t n : {1u, 2u, 3u, 5u, 10u, 99u, 100u, 101u, 1000u, 4097u, 50000u}) {
    for (size_t shape = 0; shape <= orders.size(); ++shape) {
      std::vector<double> v(n + 3, -1e9);  // past n: never read
      for (size_t i = 0; i < n; ++i) v[i] = shape < orders.size() ? orders[shape](i, n) : random();
      std::vector<double> sorted(v.begin(), v.begin() + static_cast<long>(n));
      std::sort(sorted.begin(), sorted.end());
      const size_t ranks[] = {rank_of(0.5, n), rank_of(0.9, n), rank_of(0.99, n), n - 1, n - 1};
      double out[5];
      values_at_ranks(v.data(), n, ranks, 5, out);
      for (size_t r = 0; r < 5; ++r) CHECK_EQ(out[r], sorted[ranks[r]]);
      CHECK_EQ(v[n], -1e9);
    }
  }
}
