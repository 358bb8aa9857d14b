// split_columns: frames land in the columns of one target per flow, both directions together;
// a target marked down has only its own share moved; no target up leaves everything unrouted.
#include <cstring>
#include <map>
#include <vector>

#include "check.h"
#include "forward/columnar.h"

using namespace podspan;

namespace {

Batch flows(int n) {
  Batch b;
  for (int i = 0; i < n; ++i) {
    for (int dir = 0; dir < 2; ++dir) {
      uint8_t f[28] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17};
      const uint8_t a[4] = {10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}, s[4] = {10, 1, 0, 1};
      std::memcpy(f + 12, dir ? s : a, 4);
      std::memcpy(f + 16, dir ? a : s, 4);
      f[20] = dir ? 0 : 0x13; f[21] = dir ? 80 : 0x88; f[22] = dir ? 0x13 : 0; f[23] = dir ? 0x88 : 80;
      b.append(f, sizeof f, 60, 1000u + static_cast<uint64_t>(i), 0);
    }
  }
  return b;
}

}  // namespace

TEST(columnar_keeps_each_flow_on_one_target_and_moves_only_a_lost_targets_share) {
  const Batch b = flows(500);
  const std::vector<uint16_t> linktypes = {kLinktypeRaw};
  std::vector<FrameColumns> out;
  uint64_t unrouted = 0;
  std::vector<uint64_t> moved;
  split_columns(b, linktypes, 3, 0b111, out, unrouted, moved);
  CHECK_EQ(moved[0] + moved[1] + moved[2], 0u);
  CHECK_EQ(unrouted, 0u);
  CHECK_EQ(out[0].count() + out[1].count() + out[2].count(), 1000u);
  for (const FrameColumns& c : out) CHECK(c.count() > 200u);  // spread
  // both directions of a flow together: each target holds an even number of frames per flow id
  std::map<uint64_t, int> where;
  for (int t = 0; t < 3; ++t)
    for (size_t i = 0; i < out[t].count(); ++i) {
      auto it = where.find(out[t].ts_ns[i]);
      if (it == where.end()) where[out[t].ts_ns[i]] = t;
      else CHECK_EQ(it->second, t);
    }
  CHECK_EQ(where.size(), 500u);
  // target 1 down: its flows move, the others stay
  std::vector<FrameColumns> down;
  split_columns(b, linktypes, 3, 0b101, down, unrouted, moved);
  CHECK_EQ(down[1].count(), 0u);
  CHECK_EQ(moved[1], out[1].count());  // exactly target 1's share moved, and counted
  CHECK_EQ(moved[0] + moved[2], 0u);
  for (int t : {0, 2})
    for (size_t i = 0; i < out[t].count(); ++i) {
      bool found = false;
      for (size_t j = 0; j < down[t].count() && !found; ++j) found = down[t].ts_ns[j] == out[t].ts_ns[i];
      CHECK(found);
    }
  split_columns(b, linktypes, 3, 0, down, unrouted, moved);
  CHECK_EQ(unrouted, 1000u);
  CHECK_EQ(down[0].count(), 0u);
  CHECK_EQ(std::memcmp(out[0].frames.data(), b.data.data() + b.records[0].offset, 0), 0);
}
