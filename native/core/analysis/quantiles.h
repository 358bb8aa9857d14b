// Quantiles of held latencies by selection: the values at a few ranks of an unsorted array, as a
// sort would place them, in O(n) (std::nth_element) instead of O(n log n). JavaScript's
// aggregates call it once per series at the end of a run, where a selection in JavaScript runs
// cold (13-18 ms for 180,000 values on its first call, against ~3 ms here: bench/cold-costs.js).
#pragma once

#include <algorithm>
#include <cstddef>

namespace podspan {

// out[i] = the value at ranks[i] of values[0, n) once sorted. `ranks` ascending, each below n;
// no NaN among the values (the caller sorts those). Reorders values[0, n).
inline void values_at_ranks(double* values, size_t n, const size_t* ranks, size_t count, double* out) {
  size_t end = n;  // the highest rank first: the next rank down is then among the values left of it
  for (size_t r = count; r-- > 0;) {
    const size_t k = ranks[r];
    std::nth_element(values, values + k, values + std::max(end, k + 1));
    out[r] = values[k];
    end = k;
  }
}

}  // namespace podspan
