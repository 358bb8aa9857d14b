// Counts per key hash within one second of capture time, never below the true count (count-min,
// two rows of 16-bit counters, cleared when the second changes). The Detector asks it whether a
// source (or an unknown server) has seen enough SYNs this second to be worth a key: a flood from
// a million spoofed sources, or a scan of every port, then costs two counter bumps per packet
// instead of a table entry each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace podspan {

class SecondSketch {
 public:
  // cells: per row, rounded up to a power of two (at least 64).
  explicit SecondSketch(size_t cells) {
    size_t n = 64;
    while (n < cells) n <<= 1;
    mask_ = n - 1;
    rows_.assign(2 * n, 0);
  }

  // Adds one for hash h in second s; returns the estimate after adding (saturates at 65535).
  uint32_t add(uint64_t h, uint64_t s) {
    roll(s);
    uint16_t& a = rows_[h & mask_];
    uint16_t& b = rows_[mask_ + 1 + ((h >> 32) & mask_)];
    if (a < UINT16_MAX) ++a;
    if (b < UINT16_MAX) ++b;
    return std::min(a, b);
  }
  uint32_t estimate(uint64_t h, uint64_t s) const {
    if (s != second_) return 0;
    return std::min(rows_[h & mask_], rows_[mask_ + 1 + ((h >> 32) & mask_)]);
  }
  size_t bytes() const { return rows_.capacity() * sizeof(uint16_t); }

 private:
  void roll(uint64_t s) {
    if (s == second_) return;
    std::fill(rows_.begin(), rows_.end(), 0);
    second_ = s;
  }

  std::vector<uint16_t> rows_;
  size_t mask_ = 0;
  uint64_t second_ = UINT64_MAX;
};

}  // namespace podspan
