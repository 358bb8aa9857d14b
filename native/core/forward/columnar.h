// A batch of packets turned into the columns a FrameBatch carries (frames back to back; caplen,
// origlen, timestamp and interface per frame), split over several collectors by rendezvous
// hashing of the inner flow: every frame of a flow goes to the same collector, and when one
// is down only its share moves to the others.
#pragma once

#include <cstdint>
#include <vector>

#include "common/packet.h"

namespace podspan {

struct FrameColumns {
  std::vector<uint8_t> frames;
  std::vector<uint32_t> caplen, origlen, iface;
  std::vector<uint64_t> ts_ns;
  void clear() {
    frames.clear();
    caplen.clear();
    origlen.clear();
    iface.clear();
    ts_ns.clear();
  }
  size_t count() const { return caplen.size(); }
};

// Which collector each frame of a batch goes to, and what each collector's share holds.
struct SplitPlan {
  std::vector<int32_t> target;    // per record: its collector, -1 when none is up
  std::vector<uint64_t> frames;   // per collector: frames of its share
  std::vector<uint64_t> bytes;    // per collector: caplen bytes of its share
  std::vector<uint64_t> moved;    // per collector: frames of its flows that went to another (it was down)
  uint64_t unrouted = 0;          // frames with no collector up
};

// Routes each frame of `batch` to one of `targets` collectors among those whose bit is set in
// `up`; with none up every frame is unrouted. `linktypes` gives each interface's link type (for
// the flow hash). The plan's vectors are reused: no allocation once they have grown.
void plan_split(const Batch& batch, const std::vector<uint16_t>& linktypes, uint32_t targets, uint64_t up, SplitPlan& plan);

// The frames as columns, out[t] holding collector t's share as `plan` routes it (out is resized
// to the plan's targets). The agent writes messages instead (frame_message.h); this plain form
// is what the tests check those messages and the routing against.
void split_columns(const Batch& batch, const SplitPlan& plan, std::vector<FrameColumns>& out);

// The target rendezvous hashing picks for a flow hash among the targets set in `up` (-1: none).
int pick_target(uint32_t flow_hash, uint32_t targets, uint64_t up);

}  // namespace podspan
