// The split over collectors: frames land in the columns of one target per flow, both directions
// together; a target marked down has only its own share moved; no target up leaves everything
// unrouted. Each share written as a FrameBatch message holds exactly the columns of the split.
#include <algorithm>
#include <cstring>
#include <string>
#include <map>
#include <vector>

#include "check.h"
#include "forward/columnar.h"
#include "forward/frame_batch.h"
#include "forward/frame_message.h"

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

void split(const Batch& b, const std::vector<uint16_t>& linktypes, uint32_t targets, uint64_t up, std::vector<FrameColumns>& out, uint64_t& unrouted,
           std::vector<uint64_t>& moved) {
  SplitPlan plan;
  plan_split(b, linktypes, targets, up, plan);
  split_columns(b, plan, out);
  unrouted = plan.unrouted;
  moved = plan.moved;
}

}  // namespace

TEST(columnar_keeps_each_flow_on_one_target_and_moves_only_a_lost_targets_share) {
  const Batch b = flows(500);
  const std::vector<uint16_t> linktypes = {kLinktypeRaw};
  std::vector<FrameColumns> out;
  uint64_t unrouted = 0;
  std::vector<uint64_t> moved;
  split(b, linktypes, 3, 0b111, out, unrouted, moved);
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
  split(b, linktypes, 3, 0b101, down, unrouted, moved);
  CHECK_EQ(down[1].count(), 0u);
  CHECK_EQ(moved[1], out[1].count());  // exactly target 1's share moved, and counted
  CHECK_EQ(moved[0] + moved[2], 0u);
  for (int t : {0, 2})
    for (size_t i = 0; i < out[t].count(); ++i) {
      bool found = false;
      for (size_t j = 0; j < down[t].count() && !found; ++j) found = down[t].ts_ns[j] == out[t].ts_ns[i];
      CHECK(found);
    }
  split(b, linktypes, 3, 0, down, unrouted, moved);
  CHECK_EQ(unrouted, 1000u);
  CHECK_EQ(down[0].count(), 0u);
  CHECK_EQ(std::memcmp(out[0].frames.data(), b.data.data() + b.records[0].offset, 0), 0);
}

TEST(frame_messages_hold_exactly_the_split_columns_after_the_head) {
  Batch b = flows(300);
  b.records[5].iface = 1;  // a second source
  const std::vector<uint16_t> linktypes = {kLinktypeRaw, kLinktypeRaw};
  SplitPlan plan;
  plan_split(b, linktypes, 3, 0b111, plan);
  std::vector<FrameColumns> columns;
  split_columns(b, plan, columns);
  // head: agent "n/1" and two empty sources
  const std::vector<uint8_t> head = {0x0a, 3, 'n', '/', '1', 0x1a, 0, 0x1a, 0};
  std::vector<std::vector<uint8_t>> messages(3);
  uint8_t* out[3];
  for (size_t t = 0; t < 3; ++t) {
    messages[t].assign(frame_message_body_size(head.size(), plan.frames[t], plan.bytes[t]), 0xee);
    out[t] = messages[t].data();
  }
  write_frame_messages(b, plan, head.data(), head.size(), out);
  for (size_t t = 0; t < 3; ++t) {
    const uint8_t* m = messages[t].data();
    FrameBatchLayout l;
    CHECK_EQ(check_frame_batch(m, messages[t].size(), &l), std::string());
    const FrameColumns& c = columns[t];
    CHECK_EQ(l.frame_count, c.count());
    CHECK_EQ(std::string(reinterpret_cast<const char*>(m + l.agent.offset), l.agent.length), std::string("n/1"));
    CHECK_EQ(l.sources.size(), 2u);
    auto same = [&](const WireSpan& s, const void* p, size_t n) { return s.length == n && std::memcmp(m + s.offset, p, n) == 0; };
    CHECK(same(l.frames, c.frames.data(), c.frames.size()));
    CHECK_EQ(l.caplen.size(), 1u);
    CHECK(same(l.caplen[0].bytes, c.caplen.data(), c.count() * 4));
    CHECK(same(l.origlen[0].bytes, c.origlen.data(), c.count() * 4));
    CHECK(same(l.timestamp_ns[0].bytes, c.ts_ns.data(), c.count() * 8));
    CHECK(same(l.source[0].bytes, c.iface.data(), c.count() * 4));
  }
  // a collector with no share gets no message: its buffer is not touched
  plan_split(b, linktypes, 3, 0b001, plan);
  CHECK_EQ(plan.frames[1] + plan.frames[2], 0u);
  std::vector<uint8_t> untouched(16, 0xee);
  uint8_t* outs[3] = {nullptr, untouched.data(), untouched.data()};
  messages[0].assign(frame_message_body_size(head.size(), plan.frames[0], plan.bytes[0]), 0);
  outs[0] = messages[0].data();
  write_frame_messages(b, plan, head.data(), head.size(), outs);
  CHECK(std::all_of(untouched.begin(), untouched.end(), [](uint8_t v) { return v == 0xee; }));
  CHECK_EQ(check_frame_batch(messages[0].data(), messages[0].size()), std::string());
}

// The message written around frames left in the batch (the agent's path without a copy) is, piece
// after piece, byte for byte the message the copying split writes for the same batch.
TEST(frame_message_around_in_place_frames_is_the_copied_message_byte_for_byte) {
  Batch b = flows(300);
  b.records[7].iface = 1;
  const std::vector<uint16_t> linktypes = {kLinktypeRaw, kLinktypeRaw};
  SplitPlan plan;
  plan_split(b, linktypes, 1, 0b1, plan);
  CHECK_EQ(plan.frames[0], b.size());
  CHECK(frames_in_place(b));
  const std::vector<uint8_t> head = {0x0a, 3, 'n', '/', '1', 0x1a, 0, 0x1a, 0};
  const size_t body = frame_message_body_size(head.size(), plan.frames[0], plan.bytes[0]);
  std::vector<uint8_t> copied(body, 0xee);
  uint8_t* out[1] = {copied.data()};
  write_frame_messages(b, plan, head.data(), head.size(), out);
  std::vector<uint8_t> around(body - b.used, 0xee);
  write_frame_message_around(b, head.data(), head.size(), around.data());
  const size_t lead = frame_message_lead_size(head.size(), b.used);
  std::vector<uint8_t> wire(around.begin(), around.begin() + static_cast<long>(lead));
  wire.insert(wire.end(), b.data.begin(), b.data.begin() + static_cast<long>(b.used));
  wire.insert(wire.end(), around.begin() + static_cast<long>(lead), around.end());
  CHECK(wire == copied);
  CHECK_EQ(check_frame_batch(wire.data(), wire.size()), std::string());
  // a lead with a multi-byte length (600 frames of 28 bytes: 16,800, three varint bytes)
  CHECK_EQ(lead, head.size() + 1 + 3);
}

// Frames are in place only when they follow each other from the start of the batch's own data:
// pcapng options between them, or packets borrowed from a reader's mapped file, are not.
TEST(frames_in_place_only_for_back_to_back_frames_in_the_batchs_own_data) {
  Batch b = flows(3);
  CHECK(frames_in_place(b));
  Batch empty;
  CHECK(frames_in_place(empty));
  Batch with_options = flows(2);
  const uint8_t opt[8] = {1, 0, 4, 0, 'a', 'b', 'c', 'd'};
  const uint8_t f[20] = {0x45};
  with_options.append(f, sizeof f, sizeof f, 5, 0, opt, sizeof opt);
  CHECK(!frames_in_place(with_options));
  Batch borrowed = flows(2);
  borrowed.borrowed = borrowed.data.data();
  CHECK(!frames_in_place(borrowed));
  // a record whose bytes are not where the previous one ended
  Batch gap = flows(2);
  gap.records[1].offset += 1;
  CHECK(!frames_in_place(gap));
}

// A batch of empty frames has no storage at all (a null data pointer): both ways of writing its
// message copy nothing from it (UBSan flagged a memcpy from null; found by fuzz_forward).
TEST(frame_messages_of_empty_frames_read_nothing_from_a_batch_without_storage) {
  Batch b;
  b.append(nullptr, 0, 60, 1, 0);
  b.append(nullptr, 0, 60, 2, 0);
  CHECK(b.data.data() == nullptr);
  const std::vector<uint16_t> linktypes = {kLinktypeRaw};
  SplitPlan plan;
  plan_split(b, linktypes, 1, 1, plan);
  const std::vector<uint8_t> head = {0x0a, 1, 'a', 0x1a, 0};
  std::vector<uint8_t> copied(frame_message_body_size(head.size(), plan.frames[0], plan.bytes[0]));
  uint8_t* out[1] = {copied.data()};
  write_frame_messages(b, plan, head.data(), head.size(), out);
  FrameBatchLayout l;
  CHECK_EQ(check_frame_batch(copied.data(), copied.size(), &l), std::string());
  CHECK_EQ(l.frame_count, 2u);
  CHECK(frames_in_place(b));
  std::vector<uint8_t> around(copied.size());
  write_frame_message_around(b, head.data(), head.size(), around.data());
  CHECK(around == copied);  // no frames: nothing goes between the pieces
}
