// PacketRing: holds exactly the frames of the last keep_ns before the newest, evicts the oldest
// for room and counts those, keeps every held frame's bytes intact across wrap-arounds, and
// refuses a frame larger than itself.
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include "check.h"
#include "detection/packet_ring.h"

using namespace podspan;

namespace {

constexpr uint64_t kSec = 1000000000ull;

std::vector<uint8_t> frame(uint32_t seq, size_t len) {
  std::vector<uint8_t> b(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(seq * 7 + i);
  if (len >= 4) std::memcpy(b.data(), &seq, 4);
  return b;
}

PacketRecord rec_of(uint64_t ts, size_t len, uint32_t iface = 0) {
  PacketRecord r;
  r.ts_ns = ts;
  r.caplen = static_cast<uint32_t>(len);
  r.origlen = static_cast<uint32_t>(len + 10);
  r.iface = iface;
  return r;
}

struct Held {
  uint64_t ts;
  uint32_t seq, caplen;
  bool intact;
};

std::vector<Held> held(const PacketRing& ring) {
  std::vector<Held> out;
  ring.for_each([&](const PacketRecord& r, const uint8_t* b) {
    uint32_t seq = 0;
    if (r.caplen >= 4) std::memcpy(&seq, b, 4);
    const auto want = frame(seq, r.caplen);
    out.push_back({r.ts_ns, seq, r.caplen, r.caplen == 0 || std::memcmp(want.data(), b, r.caplen) == 0});
    return true;
  });
  return out;
}

}  // namespace

TEST(ring_keeps_exactly_the_last_pre_trigger_window) {
  PacketRing ring(1 << 20, 10 * kSec);
  // 30 s of a packet every 100 ms: 301 packets, ts 0.0 .. 30.0 s.
  for (uint32_t i = 0; i <= 300; ++i) {
    const auto b = frame(i, 100);
    CHECK(ring.push(rec_of(i * kSec / 10, 100), b.data()));
  }
  const auto h = held(ring);
  // Held: 20.0 .. 30.0 s inclusive, in order, bytes intact; nothing pushed out for room.
  CHECK_EQ(h.size(), 101u);
  CHECK_EQ(h.front().ts, 20 * kSec);
  CHECK_EQ(h.back().ts, 30 * kSec);
  bool in_order = true, intact = true;
  for (size_t i = 0; i < h.size(); ++i) {
    in_order = in_order && h[i].seq == 200 + i;
    intact = intact && h[i].intact;
  }
  CHECK(in_order);
  CHECK(intact);
  CHECK_EQ(ring.overwritten(), 0u);
  CHECK_EQ(ring.span_ns(), 10 * kSec);
  CHECK_EQ(ring.bytes_used(), 101u * PacketRing::stored_size(rec_of(0, 100)));
  // A frame a little older than the latest (another interface's batch) is held and drops nothing.
  const auto late = frame(999, 60);
  CHECK(ring.push(rec_of(29 * kSec, 60), late.data()));
  CHECK_EQ(ring.packets(), 102u);
}

// Time is the latest frame's: one frame with a far-future time (a damaged file, a clock stepped
// forward and back) empties the ring once, and the frames after it are held again as usual.
TEST(ring_survives_a_clock_step) {
  PacketRing ring(1 << 20, 10 * kSec);
  for (uint32_t i = 0; i < 50; ++i) {
    const auto b = frame(i, 100);
    ring.push(rec_of(1000 * kSec + i * kSec / 10, 100), b.data());
  }
  const auto bogus = frame(50, 100);
  CHECK(ring.push(rec_of(1000 * kSec + 365 * 86400 * kSec, 100), bogus.data()));
  CHECK_EQ(ring.packets(), 1u);
  for (uint32_t i = 51; i < 200; ++i) {
    const auto b = frame(i, 100);
    ring.push(rec_of(1000 * kSec + i * kSec / 10, 100), b.data());
  }
  // All 149 frames after it are held. (While the bogus frame is the oldest, time evicts nothing
  // behind it: the ring runs on its memory cap until that pushes the bogus frame out.)
  const auto h = held(ring);
  size_t after = 0;
  for (const auto& k : h) after += k.seq > 50 ? 1 : 0;
  CHECK_EQ(after, 149u);
  // 10,000 more frames (1.3 MB) pass the 1 MiB cap: the bogus frame goes, and the ring holds
  // exactly the last 10 s again.
  for (uint32_t i = 200; i < 10200; ++i) {
    const auto b = frame(i, 100);
    ring.push(rec_of(1000 * kSec + i * kSec / 10, 100), b.data());
  }
  const auto again = held(ring);
  CHECK_EQ(again.size(), 101u);
  CHECK_EQ(again.front().seq, 10099u);
  CHECK_EQ(ring.span_ns(), 10 * kSec);
}

TEST(ring_memory_cap_evicts_oldest_and_counts) {
  const size_t each = PacketRing::stored_size(rec_of(0, 100));
  PacketRing ring(10 * each, 3600 * kSec);
  for (uint32_t i = 0; i < 25; ++i) {
    const auto b = frame(i, 100);
    ring.push(rec_of(kSec + i, 100), b.data());
  }
  const auto h = held(ring);
  CHECK_EQ(h.size(), 10u);
  CHECK_EQ(h.front().seq, 15u);
  CHECK_EQ(h.back().seq, 24u);
  CHECK_EQ(ring.overwritten(), 15u);
  CHECK_EQ(ring.bytes_used(), 10 * each);
  // Time eviction is not counted as overwritten: a packet 2 h later pushes all ten out by time.
  const auto late = frame(100, 100);
  ring.push(rec_of(7200 * kSec, 100), late.data());
  CHECK_EQ(ring.packets(), 1u);
  CHECK_EQ(ring.overwritten(), 15u);
}

TEST(ring_frame_bigger_than_ring_is_not_held) {
  PacketRing ring(4096, 10 * kSec);
  const auto small = frame(1, 1000);
  ring.push(rec_of(kSec, 1000), small.data());
  const auto big = frame(2, 5000);
  CHECK(!ring.push(rec_of(kSec + 1, 5000), big.data()));
  CHECK_EQ(ring.too_big(), 1u);
  const auto h = held(ring);
  CHECK_EQ(h.size(), 1u);
  CHECK_EQ(h[0].seq, 1u);
  CHECK(h[0].intact);
  // Exactly the ring's size fits (it empties the ring).
  const size_t fill = 4096 - PacketRing::stored_size(rec_of(0, 0));
  const auto whole = frame(3, fill);
  CHECK(ring.push(rec_of(kSec + 2, fill), whole.data()));
  CHECK_EQ(ring.packets(), 1u);
  CHECK_EQ(ring.bytes_used(), 4096u);
  CHECK_EQ(ring.overwritten(), 1u);
}

// Random sizes through many wrap-arounds: what is held is always the newest packets pushed,
// in order, intact, within the cap; every packet pushed is held, or counted out for room.
TEST(ring_random_sizes_hold_a_suffix_intact) {
  std::mt19937 rng(14);
  PacketRing ring(64 * 1024, 3600 * kSec);
  std::deque<uint32_t> expect_tail;  // pushed and not yet counted out, oldest first
  uint64_t pushed = 0;
  bool ok = true;
  for (uint32_t i = 0; i < 20000 && ok; ++i) {
    const size_t len = rng() % 3 == 0 ? rng() % 9000 : 40 + rng() % 200;
    const auto b = frame(i, std::max<size_t>(len, 4));
    if (!ring.push(rec_of(kSec + i, b.size()), b.data())) continue;
    ++pushed;
    expect_tail.push_back(i);
    while (expect_tail.size() > ring.packets()) expect_tail.pop_front();
    if (i % 97 == 0) {
      const auto h = held(ring);
      ok = h.size() == expect_tail.size() && ring.bytes_used() <= 64 * 1024;
      for (size_t k = 0; ok && k < h.size(); ++k) ok = h[k].seq == expect_tail[k] && h[k].intact;
    }
  }
  CHECK(ok);
  CHECK_EQ(ring.packets() + ring.overwritten(), pushed);
  CHECK_EQ(ring.too_big(), 0u);
}

// A frame pushed after the clock stepped back sits behind newer ones; when the cap evicts those
// ahead of it, it is the front and out of the window: it goes too (not counted as overwritten),
// so the front is always within the window. (Found by fuzz_evidence.)
TEST(ring_front_stays_within_the_window_after_evictions_for_room) {
  const size_t each = PacketRing::stored_size(rec_of(0, 100));
  PacketRing ring(3 * each, 10 * kSec);
  const uint64_t ts[4] = {100 * kSec, 50 * kSec, 100 * kSec, 100 * kSec};
  for (uint32_t i = 0; i < 4; ++i) {
    const auto b = frame(i, 100);
    ring.push(rec_of(ts[i], 100), b.data());
  }
  const auto h = held(ring);
  CHECK_EQ(h.size(), 2u);
  if (h.size() == 2) {
    CHECK_EQ(h[0].seq, 2u);
    CHECK_EQ(h[1].seq, 3u);
  }
  CHECK_EQ(ring.overwritten(), 1u);
  CHECK_EQ(ring.span_ns(), 0u);
}

// A file read by mapping: frames inside the stable input are held by address (no copy, a few
// bytes each in the ring); frames outside it are still copied; both read back intact.
TEST(ring_holds_frames_of_a_stable_input_by_address) {
  std::vector<uint8_t> mapped;
  std::vector<size_t> offsets;
  for (uint32_t seq = 0; seq < 100; ++seq) {
    const auto f = frame(seq, 1500);
    offsets.push_back(mapped.size());
    mapped.insert(mapped.end(), f.begin(), f.end());
  }
  PacketRing ring(64 * 1024, 100 * kSec);  // 64 KiB: 40 copied 1500-byte frames at most
  ring.set_stable(mapped.data(), mapped.size());
  for (uint32_t seq = 0; seq < 100; ++seq) CHECK(ring.push(rec_of(seq * kSec / 10, 1500), mapped.data() + offsets[seq]));
  const auto outside = frame(100, 1500);  // not in the mapping: copied
  CHECK(ring.push(rec_of(10 * kSec, 1500), outside.data()));
  CHECK_EQ(ring.packets(), 101u);
  CHECK_EQ(ring.overwritten(), 0u);
  CHECK(ring.bytes_used() < 100u * 64 + PacketRing::stored_size(rec_of(0, 1500)) + 1);
  size_t i = 0;
  bool by_address = true;
  ring.for_each([&](const PacketRecord&, const uint8_t* b) {
    if (i < 100) by_address = by_address && b == mapped.data() + offsets[i];
    ++i;
    return true;
  });
  CHECK(by_address);
  const auto h = held(ring);
  bool intact = true;
  for (size_t k = 0; k < h.size(); ++k) intact = intact && h[k].intact && h[k].seq == k;
  CHECK(intact);
}
