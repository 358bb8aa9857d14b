// TCP stream reassembly: a bidirectional flow table keyed by the 5-tuple and VLAN, and per
// direction the payload in sequence order. Out-of-order segments wait in a buffer bounded per
// flow and overall; overlaps are resolved first-wins (bytes already delivered or buffered are
// kept, later copies are trimmed) and overlaps whose bytes differ are counted; missing data past
// the caps, at a timeout or at the end becomes an explicit gap event, never spliced over.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "decode/decode.h"
#include "reassembly/flow_table.h"
#include "common/packet.h"

namespace podspan {

enum class CloseReason : uint8_t { kFin, kRst, kTimeout, kEvicted, kEnd };
const char* close_reason_name(CloseReason r);

struct Endpoint {
  uint8_t addr[16] = {0};
  uint16_t port = 0;
};

struct StreamInfo {
  uint64_t id = 0;
  // Small and dense while the stream is open, reused after it closes: a sink can keep its own
  // per-stream state in an array indexed by it instead of a map keyed by id.
  uint32_t slot = 0;
  uint8_t ip_version = 4;
  uint16_t vlan = 0;
  Endpoint side[2];  // side[0] sent the first packet we saw (the client when we saw the SYN)
  uint64_t first_ts = 0;
};

// Receives stream events in order, each with the stream's info as given at open.
// dir 0: bytes sent by side[0]; dir 1: by side[1].
// tcpflow's -b for a sink: a stream direction is kept up to its first `max` bytes (0: all).
// How much of [offset, offset + len) lies below that; the rest is beyond it.
inline uint64_t kept_below(uint64_t max, uint64_t offset, uint64_t len) {
  if (max == 0 || offset + len <= max) return len;
  return offset >= max ? 0 : max - offset;
}

class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // A hint: events for the stream in `slot` may come soon (the slot may hold no stream or
  // another one), so the sink can start fetching its state for it into cache.
  virtual void prefetch(uint32_t slot) const {}
  virtual void on_open(const StreamInfo& s) = 0;
  virtual void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) = 0;
  virtual void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) = 0;
  virtual void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) = 0;
};

// Sees every TCP segment of every flow the reassembler tracks (SYN, SYN/ACK, pure ACKs, RST,
// FIN, retransmissions), after the flow's on_open and before the segment's payload is delivered
// or a RST/FIN closes the flow, so a connection tracker sees the segment while the flow is open.
// Segments of no tracked flow (a bare ACK or RST after the flow closed) are not reported.
class SegmentObserver {
 public:
  virtual ~SegmentObserver() = default;
  // dir as in StreamSink; d: the decoded segment (seq, ack, flags, window, payload_len).
  virtual void on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) = 0;
};

struct ReassemblyConfig {
  size_t max_flows = 1 << 20;
  uint64_t idle_timeout_ns = 120ull * 1000000000ull;
  // Out-of-order memory one flow may hold, and all flows together: each buffered segment is
  // charged its payload plus its bookkeeping (map node, the copy's allocation rounded as malloc
  // rounds it), so a flood of tiny segments is bounded like one of large ones.
  size_t max_buffer_per_flow = 4 << 20;
  size_t max_buffer_total = 512u << 20;
};

struct ReassemblyStats {
  uint64_t streams = 0;
  uint64_t closed[5] = {0, 0, 0, 0, 0};  // by CloseReason
  uint64_t bytes = 0;                    // payload delivered
  uint64_t gaps = 0, gap_bytes = 0;
  uint64_t retransmitted_bytes = 0;      // copies of bytes already delivered
  uint64_t overlap_bytes = 0;            // later copies of buffered bytes (trimmed)
  uint64_t overlap_conflicts = 0;        // ... of which the bytes differed
  uint64_t buffered_bytes = 0;           // out-of-order payload held now
  uint64_t peak_buffered_bytes = 0;
  uint64_t buffered_memory = 0;          // ... and what it costs with its bookkeeping (the caps bound this)
  uint64_t peak_buffered_memory = 0;
  uint64_t flows = 0;                    // open now
};

class TcpReassembler {
 public:
  TcpReassembler(ReassemblyConfig config, StreamSink& sink);
  ~TcpReassembler();

  // A decoded TCP segment (d.protocol == 6) of `frame`, captured at ts (ns).
  void add(const Decoded& d, const uint8_t* frame, uint64_t ts);
  // Lookahead for a frame that add() will get a few frames from now: prefetches its table entry
  // and returns its flow's hash (0: a frame add() ignores). Later, lookahead_flow() prefetches
  // the flow itself and lets the sink prefetch its state for the stream.
  uint64_t lookahead(const Decoded& d) const;
  void lookahead_flow(uint64_t hash) const;
  // Closes flows idle for longer than the timeout at time `now` (ns).
  void expire(uint64_t now);
  // Closes every flow (reason kEnd), delivering what is buffered with gaps where data is missing.
  void finish(uint64_t ts);
  // Frames inside [begin, begin + len) stay in place until finish() (a file read by mapping):
  // out-of-order payload lying there is buffered by reference, not copied. It still counts
  // against the buffer caps, which bound how much is held back either way.
  void input_is_stable(const uint8_t* begin, size_t len) { stable_.set(begin, len); }
  // None by default: then the per-segment cost is one predictable branch.
  void set_segment_observer(SegmentObserver* observer) { observer_ = observer; }

  const ReassemblyStats& stats() const { return stats_; }
  // What a buffered segment of len bytes is charged against the caps: payload and bookkeeping.
  static size_t segment_cost(size_t len);

 private:
  // Five 8-byte words without padding, so hashing and comparing go a word at a time (this is
  // on every packet's path).
  struct Key {
    uint8_t ip_version, pad = 0;
    uint16_t vlan;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint64_t word(int i) const {
      uint64_t w;
      std::memcpy(&w, reinterpret_cast<const uint8_t*>(this) + 8 * i, 8);
      return w;
    }
    bool operator==(const Key& o) const {
      return word(0) == o.word(0) && word(1) == o.word(1) && word(2) == o.word(2) && word(3) == o.word(3) &&
             word(4) == o.word(4);
    }
  };
  static_assert(sizeof(Key) == 40, "the flow key is hashed and compared as five words");
  struct KeyHash {
    // The key is canonical (a < b), so both directions hash alike. A multiply-xorshift mix per
    // word; a byte-wise FNV over the 38 bytes cost ~50 ns per packet.
    size_t operator()(const Key& k) const {
      uint64_t h = 0x9e3779b97f4a7c15ull;
      for (int i = 0; i < 5; ++i) {
        h = (h ^ k.word(i)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
      }
      return static_cast<size_t>(h);
    }
  };
  // A buffered out-of-order segment: its bytes where they lie in a stable input (see
  // input_is_stable), else a copy.
  struct Segment {
    const uint8_t* bytes;
    uint32_t len;
    uint32_t cost;  // what it is charged against the caps (segment_cost)
    std::unique_ptr<uint8_t[]> copy;
    uint64_t ts;    // its capture time: delivered with it when no later packet fills the hole before it
    const uint8_t* data() const { return bytes; }
    size_t size() const { return len; }
  };

  struct Direction {
    bool started = false;
    bool fin = false;        // FIN seen; done once delivered up to fin_offset
    uint32_t next_seq = 0;   // sequence number of the next byte to deliver
    uint64_t offset = 0;     // stream offset of the next byte to deliver
    uint64_t fin_offset = 0;
    // Out-of-order segments by stream offset; allocated only once a segment arrives early, so
    // an in-order flow carries 8 bytes here, not a whole map.
    std::unique_ptr<std::map<uint64_t, Segment>> pending;
    size_t pending_memory = 0;  // segment_cost of what pending holds
    bool has_pending() const { return pending && !pending->empty(); }
  };
  static constexpr uint32_t kNoFlow = UINT32_MAX;  // FlowTable's kNone
  struct Flow {
    StreamInfo info;  // info.slot: this flow's slot in flows_
    Direction dir[2];
    bool from_a_is_side0 = true;
    uint64_t last_ts = 0;
    // Least recently active first, linked through the flows themselves (no node per flow).
    uint32_t lru_prev = kNoFlow, lru_next = kNoFlow;
  };

  static bool make_key(const Decoded& d, Key& key);
  Flow* find_or_open(const Key& key, uint64_t hash, const Decoded& d, bool from_a, uint64_t ts);
  void segment(Flow& f, int dir, const Decoded& d, const uint8_t* payload, uint32_t len, uint64_t ts);
  // Delivers what is buffered from the direction's offset on: at `ts` (the packet that filled the
  // hole), or with own_times at each segment's capture time (the hole was given up as a gap).
  void deliver_ready(Flow& f, int dir, uint64_t ts, bool own_times = false);
  void buffer(Flow& f, int dir, uint64_t off, const uint8_t* data, uint32_t len, uint64_t ts);
  void flush_with_gaps(Flow& f, int dir, uint64_t ts);
  void gap(Flow& f, int dir, uint64_t len);  // declares the next len bytes of dir missing
  void close(Flow* f, CloseReason reason, uint64_t ts);
  void enforce_buffer_caps(Flow& f, int dir, uint64_t ts);
  void release(Direction& D, std::map<uint64_t, Segment>::iterator it);

  ReassemblyConfig cfg_;
  StreamSink& sink_;
  ReassemblyStats stats_;
  void lru_unlink(Flow& f);
  void lru_append(Flow& f);

  FlowTable<Key, Flow> flows_;
  uint32_t lru_head_ = kNoFlow, lru_tail_ = kNoFlow;
  uint64_t next_id_ = 1;
  StableInput stable_;  // input_is_stable()
  SegmentObserver* observer_ = nullptr;
};

}  // namespace podspan
