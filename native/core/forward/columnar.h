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

// Splits `batch` into out[0..targets) over the targets whose bit is set in `up`; frames of a
// batch with no target up are all counted in `unrouted` and not copied. `linktypes` gives each
// interface's link type (for the flow hash). out is resized to `targets`. moved[t] counts the
// frames whose collector t was down and that went to another one (resized to `targets`).
void split_columns(const Batch& batch, const std::vector<uint16_t>& linktypes, uint32_t targets, uint64_t up,
                   std::vector<FrameColumns>& out, uint64_t& unrouted, std::vector<uint64_t>& moved);

// The target rendezvous hashing picks for a flow hash among the targets set in `up` (-1: none).
int pick_target(uint32_t flow_hash, uint32_t targets, uint64_t up);

}  // namespace podspan
