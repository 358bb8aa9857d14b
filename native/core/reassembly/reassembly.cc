#include "reassembly/reassembly.h"

#include <algorithm>
#include <cstring>

#include "common/heap_cost.h"

namespace podspan {

const char* close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::kFin: return "fin";
    case CloseReason::kRst: return "rst";
    case CloseReason::kTimeout: return "timeout";
    case CloseReason::kEvicted: return "evicted";
    case CloseReason::kEnd: break;
  }
  return "end";
}

// A buffered segment costs its std::map node (three links and a colour, 32 bytes, then the key
// and the Segment) and the copy's block. Lent payload (lying in the mapped input) is charged as
// if copied too: the caps then cut the same holes whether a file is read lent or copied, which
// fuzz_pipeline requires (it found the two diverging), and lent segments only get a little more
// headroom than they use. With 1-byte segments the flood bench measured 128 bytes of RSS per
// segment before this was counted (bench/native/reassembly_bench.cc).
size_t TcpReassembler::segment_cost(size_t len) {
  constexpr size_t node = malloc_block(32 + sizeof(std::pair<const uint64_t, Segment>));
  return node + malloc_block(len);
}

TcpReassembler::TcpReassembler(ReassemblyConfig config, StreamSink& sink) : cfg_(config), sink_(sink) {}

TcpReassembler::~TcpReassembler() = default;

bool TcpReassembler::make_key(const Decoded& d, Key& key) {
  const size_t alen = d.ip_version == 4 ? 4 : 16;
  key = Key{};
  key.ip_version = d.ip_version;
  key.vlan = d.vlan_count ? d.vlan[d.vlan_count - 1] : 0;
  const int cmp = std::memcmp(d.src, d.dst, alen);
  const bool src_is_a = cmp < 0 || (cmp == 0 && d.sport <= d.dport);
  std::memcpy(key.a, src_is_a ? d.src : d.dst, alen);
  std::memcpy(key.b, src_is_a ? d.dst : d.src, alen);
  key.pa = src_is_a ? d.sport : d.dport;
  key.pb = src_is_a ? d.dport : d.sport;
  return src_is_a;
}

uint64_t TcpReassembler::lookahead(const Decoded& d) const {
  if (d.protocol != 6 || d.fragment) return 0;
  Key key;
  make_key(d, key);
  const uint64_t hash = KeyHash{}(key);
  flows_.prefetch_index(hash);
  return hash;
}

void TcpReassembler::lookahead_flow(uint64_t hash) const {
  const uint32_t slot = flows_.peek(hash);
  if (slot == kNoFlow) return;
  const auto* p = reinterpret_cast<const char*>(&flows_.key(slot));  // the key, then the flow
  for (size_t at = 0; at < sizeof(Key) + sizeof(Flow); at += 64) __builtin_prefetch(p + at);
  sink_.prefetch(slot);
}

void TcpReassembler::add(const Decoded& d, const uint8_t* frame, uint64_t ts) {
  if (d.protocol != 6 || (d.fragment)) return;
  Key key;
  const bool src_is_a = make_key(d, key);

  Flow* f = find_or_open(key, KeyHash{}(key), d, src_is_a, ts);
  if (f == nullptr) return;
  const int dir = src_is_a == f->from_a_is_side0 ? 0 : 1;
  f->last_ts = ts;
  if (f->info.slot != lru_tail_) {
    lru_unlink(*f);
    lru_append(*f);
  }
  if (observer_) observer_->on_segment(f->info, dir, d, ts);
  segment(*f, dir, d, frame + d.payload_offset, d.captured_payload, ts);
}

TcpReassembler::Flow* TcpReassembler::find_or_open(const Key& key, uint64_t hash, const Decoded& d, bool src_is_a, uint64_t ts) {
  const bool syn_only = (d.tcp_flags & (kSyn | kAck)) == kSyn;
  const uint32_t found = flows_.find(key, hash);
  if (found != kNoFlow) {
    Flow* f = &flows_.value(found);
    const int dir = src_is_a == f->from_a_is_side0 ? 0 : 1;
    const Direction& D = f->dir[dir];
    // A new SYN with another initial sequence number: the 4-tuple was reused.
    if (!(syn_only && D.started && d.seq + 1 != D.next_seq && (D.offset > 0 || D.fin))) return f;
    close(f, CloseReason::kEnd, ts);
  }
  // A bare ACK, FIN or RST of a flow we do not know (often the tail of one that just closed)
  // starts nothing.
  if (!(d.tcp_flags & kSyn) && d.payload_len == 0) return nullptr;
  if (flows_.size() >= cfg_.max_flows && lru_head_ != kNoFlow) close(&flows_.value(lru_head_), CloseReason::kEvicted, ts);
  const uint32_t slot = flows_.insert(key, hash);
  Flow* f = &flows_.value(slot);
  f->info.slot = slot;
  // side 0 is the client: the sender of this packet, unless it answers a SYN (SYN+ACK).
  const bool sender_is_server = (d.tcp_flags & (kSyn | kAck)) == (kSyn | kAck);
  f->from_a_is_side0 = sender_is_server ? !src_is_a : src_is_a;
  f->info.id = next_id_++;
  f->info.ip_version = d.ip_version;
  f->info.vlan = key.vlan;
  f->info.first_ts = ts;
  const size_t alen = d.ip_version == 4 ? 4 : 16;
  Endpoint sender, receiver;
  std::memcpy(sender.addr, d.src, alen);
  sender.port = d.sport;
  std::memcpy(receiver.addr, d.dst, alen);
  receiver.port = d.dport;
  f->info.side[0] = sender_is_server ? receiver : sender;
  f->info.side[1] = sender_is_server ? sender : receiver;
  lru_append(*f);
  ++stats_.streams;
  stats_.flows = flows_.size();
  sink_.on_open(f->info);
  return f;
}

void TcpReassembler::segment(Flow& f, int dir, const Decoded& d, const uint8_t* payload, uint32_t captured, uint64_t ts) {
  Direction& D = f.dir[dir];
  const uint8_t flags = d.tcp_flags;
  const bool syn = (flags & kSyn) != 0;
  if (!D.started) {
    D.started = true;
    D.next_seq = syn ? d.seq + 1 : d.seq;  // with no SYN, the stream starts here
  }
  const uint32_t seq = syn ? d.seq + 1 : d.seq;  // data on a SYN (TCP Fast Open) follows the SYN
  const int64_t start = static_cast<int64_t>(D.offset) + static_cast<int32_t>(seq - D.next_seq);
  const uint32_t claimed = d.payload_len;  // what the segment carried on the wire
  if (claimed > 0 && start + static_cast<int64_t>(claimed) > static_cast<int64_t>(D.offset)) {
    uint64_t off = start < 0 ? 0 : static_cast<uint64_t>(start);
    uint32_t skip = static_cast<uint32_t>(off - start);
    if (off < D.offset) {
      const uint32_t already = static_cast<uint32_t>(D.offset - off);
      skip += already;
      stats_.retransmitted_bytes += already;
      off = D.offset;
    }
    const uint32_t have = captured > skip ? captured - skip : 0;
    const uint32_t want = claimed - std::min(claimed, skip);
    if (off == D.offset) {
      if (have) {
        sink_.on_data(f.info, dir, D.offset, payload + skip, have, ts);
        D.offset += have;
        D.next_seq += have;
        stats_.bytes += have;
      }
      if (want > have) gap(f, dir, want - have);  // cut by the snaplen: known missing
      deliver_ready(f, dir, ts);
    } else if (have) {
      buffer(f, dir, off, payload + skip, have, ts);
      enforce_buffer_caps(f, dir, ts);
    }
  } else if (claimed > 0) {
    stats_.retransmitted_bytes += claimed;  // keep-alive probes and full retransmissions
  }
  if (flags & kFin) {
    const int64_t fin_at = start + static_cast<int64_t>(claimed);
    if (fin_at >= 0 && !D.fin) {
      D.fin = true;
      D.fin_offset = static_cast<uint64_t>(fin_at);
    }
  }
  if (flags & kRst) {
    close(&f, CloseReason::kRst, ts);
    return;
  }
  auto done = [](const Direction& x) { return x.fin && x.offset >= x.fin_offset && !x.has_pending(); };
  const Direction& O = f.dir[1 - dir];
  if (done(D) && (done(O) || !O.started)) close(&f, CloseReason::kFin, ts);
}

void TcpReassembler::deliver_ready(Flow& f, int dir, uint64_t ts, bool own_times) {
  Direction& D = f.dir[dir];
  while (D.has_pending()) {
    auto it = D.pending->begin();
    if (it->first > D.offset) break;
    const Segment& seg = it->second;
    const uint64_t end = it->first + seg.size();
    if (end > D.offset) {
      const uint32_t skip = static_cast<uint32_t>(D.offset - it->first);
      const uint32_t n = static_cast<uint32_t>(seg.size() - skip);
      sink_.on_data(f.info, dir, D.offset, seg.data() + skip, n, own_times ? seg.ts : ts);
      D.offset += n;
      D.next_seq += n;
      stats_.bytes += n;
    }
    release(D, it);
  }
  if (D.pending && D.pending->empty()) D.pending.reset();  // back to the lean in-order state
}

void TcpReassembler::release(Direction& D, std::map<uint64_t, Segment>::iterator it) {
  D.pending_memory -= it->second.cost;
  stats_.buffered_memory -= it->second.cost;
  stats_.buffered_bytes -= it->second.size();
  D.pending->erase(it);
}

void TcpReassembler::buffer(Flow& f, int dir, uint64_t off, const uint8_t* data, uint32_t len, uint64_t ts) {
  Direction& D = f.dir[dir];
  auto overlap_with = [&](const Segment& seg, size_t seg_from, const uint8_t* ours, size_t n) {
    stats_.overlap_bytes += n;
    if (std::memcmp(seg.data() + seg_from, ours, n) != 0) ++stats_.overlap_conflicts;
  };
  if (!D.pending) D.pending = std::make_unique<std::map<uint64_t, Segment>>();
  auto& pending = *D.pending;
  const bool lend = stable_.holds(data, len);
  auto store = [&](uint64_t at, const uint8_t* p, size_t n) {
    const uint32_t cost = static_cast<uint32_t>(segment_cost(n));
    Segment& seg = pending.emplace(at, Segment{p, static_cast<uint32_t>(n), cost, nullptr, ts}).first->second;
    if (!lend) {
      seg.copy.reset(new uint8_t[n]);
      std::memcpy(seg.copy.get(), p, n);
      seg.bytes = seg.copy.get();
    }
    D.pending_memory += cost;
    stats_.buffered_memory += cost;
    stats_.buffered_bytes += n;
  };
  // First wins: trim what an earlier buffered segment already covers ...
  auto next = pending.upper_bound(off);
  if (next != pending.begin()) {
    auto prev = std::prev(next);
    const uint64_t prev_end = prev->first + prev->second.size();
    if (prev_end > off) {
      const uint64_t n = std::min<uint64_t>(prev_end, off + len) - off;
      overlap_with(prev->second, static_cast<size_t>(off - prev->first), data, static_cast<size_t>(n));
      off += n;
      data += n;
      len -= static_cast<uint32_t>(n);
    }
  }
  // ... then keep only the holes between later buffered segments.
  while (len > 0) {
    auto it = pending.lower_bound(off);
    if (it == pending.end() || it->first >= off + len) {
      store(off, data, len);
      break;
    }
    const uint64_t head = it->first - off;
    if (head) store(off, data, static_cast<size_t>(head));
    const uint64_t n = std::min<uint64_t>(off + len, it->first + it->second.size()) - it->first;
    overlap_with(it->second, 0, data + head, static_cast<size_t>(n));
    off += head + n;
    data += head + n;
    len -= static_cast<uint32_t>(head + n);
  }
  stats_.peak_buffered_bytes = std::max(stats_.peak_buffered_bytes, stats_.buffered_bytes);
  stats_.peak_buffered_memory = std::max(stats_.peak_buffered_memory, stats_.buffered_memory);
}

void TcpReassembler::enforce_buffer_caps(Flow& f, int dir, uint64_t ts) {
  Direction& D = f.dir[dir];
  // Over a cap, the hole before the first buffered segment is declared lost.
  while (D.has_pending() && (D.pending_memory > cfg_.max_buffer_per_flow || stats_.buffered_memory > cfg_.max_buffer_total)) {
    const uint64_t at = D.pending->begin()->first;
    if (at > D.offset) gap(f, dir, at - D.offset);
    deliver_ready(f, dir, ts, true);
  }
}

void TcpReassembler::gap(Flow& f, int dir, uint64_t len) {
  Direction& D = f.dir[dir];
  sink_.on_gap(f.info, dir, D.offset, len);
  ++stats_.gaps;
  stats_.gap_bytes += len;
  D.offset += len;
  D.next_seq += static_cast<uint32_t>(len);
}

void TcpReassembler::flush_with_gaps(Flow& f, int dir, uint64_t ts) {
  Direction& D = f.dir[dir];
  while (D.has_pending()) {
    const uint64_t at = D.pending->begin()->first;
    if (at > D.offset) gap(f, dir, at - D.offset);
    deliver_ready(f, dir, ts, true);
  }
  if (D.fin && D.fin_offset > D.offset) gap(f, dir, D.fin_offset - D.offset);  // lost before the FIN
}

void TcpReassembler::close(Flow* f, CloseReason reason, uint64_t ts) {
  // Both FINs seen but data before one of them missing: it ended with FINs all the same.
  const auto fin_or_silent = [](const Direction& x) { return x.fin || !x.started; };
  if ((reason == CloseReason::kEnd || reason == CloseReason::kTimeout) && fin_or_silent(f->dir[0]) &&
      fin_or_silent(f->dir[1]) && (f->dir[0].fin || f->dir[1].fin)) {
    reason = CloseReason::kFin;
  }
  flush_with_gaps(*f, 0, ts);
  flush_with_gaps(*f, 1, ts);
  sink_.on_close(f->info, reason, ts);
  ++stats_.closed[static_cast<int>(reason)];
  lru_unlink(*f);
  const uint32_t slot = f->info.slot;
  flows_.erase(slot, KeyHash{}(flows_.key(slot)));  // frees f
  stats_.flows = flows_.size();
}

void TcpReassembler::lru_unlink(Flow& f) {
  (f.lru_prev == kNoFlow ? lru_head_ : flows_.value(f.lru_prev).lru_next) = f.lru_next;
  (f.lru_next == kNoFlow ? lru_tail_ : flows_.value(f.lru_next).lru_prev) = f.lru_prev;
  f.lru_prev = f.lru_next = kNoFlow;
}

void TcpReassembler::lru_append(Flow& f) {
  f.lru_prev = lru_tail_;
  f.lru_next = kNoFlow;
  (lru_tail_ == kNoFlow ? lru_head_ : flows_.value(lru_tail_).lru_next) = f.info.slot;
  lru_tail_ = f.info.slot;
}

void TcpReassembler::expire(uint64_t now) {
  while (lru_head_ != kNoFlow && flows_.value(lru_head_).last_ts + cfg_.idle_timeout_ns < now) {
    close(&flows_.value(lru_head_), CloseReason::kTimeout, now);
  }
}

void TcpReassembler::finish(uint64_t ts) {
  while (lru_head_ != kNoFlow) close(&flows_.value(lru_head_), CloseReason::kEnd, ts);
}

}  // namespace podspan
