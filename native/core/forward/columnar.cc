#include "forward/columnar.h"

#include "decode/decode.h"

namespace podspan {

int pick_target(uint32_t flow_hash, uint32_t targets, uint64_t up) {
  int best = -1;
  uint64_t best_weight = 0;
  for (uint32_t t = 0; t < targets && t < 64; ++t) {
    if ((up >> t & 1) == 0) continue;
    // Highest random weight: a mix of the flow and the target, the same on every agent.
    uint64_t w = (static_cast<uint64_t>(flow_hash) << 32 | t) * 0x9e3779b97f4a7c15ull;
    w ^= w >> 29;
    w *= 0xbf58476d1ce4e5b9ull;
    w ^= w >> 32;
    if (best < 0 || w > best_weight) {
      best = static_cast<int>(t);
      best_weight = w;
    }
  }
  return best;
}

void plan_split(const Batch& batch, const std::vector<uint16_t>& linktypes, uint32_t targets, uint64_t up, SplitPlan& plan) {
  plan.target.resize(batch.records.size());
  plan.frames.assign(targets, 0);
  plan.bytes.assign(targets, 0);
  plan.moved.assign(targets, 0);
  plan.unrouted = 0;
  const uint64_t all = targets >= 64 ? ~0ull : (1ull << targets) - 1;
  const bool hash = targets > 1 || up != 1;  // one collector, up: no flow hash needed
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const PacketRecord& rec = batch.records[i];
    int t = targets > 0 ? 0 : -1;
    if (hash) {
      const uint16_t linktype = rec.iface < linktypes.size() ? linktypes[rec.iface] : uint16_t{kLinktypeEthernet};
      const uint32_t h = flow_hash(batch.bytes(rec), rec.caplen, linktype);
      t = pick_target(h, targets, up);
      if ((up & all) != all) {
        const int home = pick_target(h, targets, all);
        if (home >= 0 && home != t) ++plan.moved[static_cast<size_t>(home)];
      }
    }
    plan.target[i] = t;
    if (t < 0) {
      ++plan.unrouted;
      continue;
    }
    ++plan.frames[static_cast<size_t>(t)];
    plan.bytes[static_cast<size_t>(t)] += rec.caplen;
  }
}

void split_columns(const Batch& batch, const SplitPlan& plan, std::vector<FrameColumns>& out) {
  out.resize(plan.frames.size());
  for (FrameColumns& c : out) c.clear();
  for (size_t i = 0; i < batch.records.size(); ++i) {
    if (plan.target[i] < 0) continue;
    const PacketRecord& rec = batch.records[i];
    const uint8_t* bytes = batch.bytes(rec);
    FrameColumns& c = out[static_cast<size_t>(plan.target[i])];
    c.frames.insert(c.frames.end(), bytes, bytes + rec.caplen);
    c.caplen.push_back(rec.caplen);
    c.origlen.push_back(rec.origlen);
    c.ts_ns.push_back(rec.ts_ns);
    c.iface.push_back(rec.iface);
  }
}

}  // namespace podspan
