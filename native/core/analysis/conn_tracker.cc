#include "analysis/conn_tracker.h"

#include <cstring>

namespace podspan {
namespace {

// Sequence-space comparisons (RFC 1982), as tshark's LT_SEQ/GT_SEQ/LE_SEQ.
bool lt_seq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
bool gt_seq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
bool le_seq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }

constexpr uint8_t kKeepAlive = 1, kZeroWindowProbe = 2;
constexpr uint64_t kFastRetransmitWindowNs = 20000000;  // a retransmission within 20 ms of the dup ACKs
constexpr uint64_t kDefaultReorderNs = 3000000;         // out-of-order threshold before an RTT is known

}  // namespace

void ConnTracker::on_open(const StreamInfo& s) {
  if (s.slot >= conns_.size()) conns_.resize(s.slot + 1 + s.slot / 2);  // grows with the peak of open flows, not per packet
  conns_[s.slot] = Conn{};
  conns_[s.slot].first_ts = s.first_ts;
}

bool ConnTracker::on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) {
  Conn& c = conns_[s.slot];
  Dir& F = c.dir[dir];
  if (c.client < 0) {
    // Oriented by the first segment: a SYN's sender or a SYN/ACK's receiver is the client;
    // midstream, the server is the side with the lower port (listening ports are the low ones).
    const uint8_t sa = d.tcp_flags & (kSyn | kAck);
    if (sa == kSyn) c.client = static_cast<int8_t>(dir);
    else if (sa == (kSyn | kAck)) c.client = static_cast<int8_t>(1 - dir);
    else c.client = s.side[0].port >= s.side[1].port ? 0 : 1;
  }
  c.last_ts = ts;
  ++F.packets;
  F.bytes += d.payload_len;
  analyze(c, dir, d, ts);

  const uint8_t flags = d.tcp_flags;
  if ((flags & (kSyn | kAck)) == kSyn) {
    c.mru_syn_ts = ts;
    if (c.syn_from < 0) c.syn_from = static_cast<int8_t>(dir);
  } else if ((flags & (kSyn | kAck)) == (kSyn | kAck)) {
    c.synack_ts = ts;
    c.synack_seen = true;
  }
  if (flags & kRst) c.rst_from = static_cast<int8_t>(dir);
  if (c.syn_from >= 0 && !(flags & kRst) && (dir != c.syn_from || !(flags & kSyn))) c.answered = true;
  // tshark's initial RTT: the first segment with ACK but not SYN after a SYN, taken against
  // the latest SYN. Ours only counts it when a SYN/ACK came between and it is no RST.
  // tshark takes a zero delta for "not yet" and tries again on the next ACK (for its reorder
  // threshold we do the same); the handshake is taken once, a zero delta included.
  bool completed = false;
  if ((flags & (kSyn | kAck)) == kAck && c.mru_syn_ts != 0 && c.first_rtt == 0) {
    c.first_rtt = ts - c.mru_syn_ts;
    // Capture times that run backwards (merged captures) give no RTT rather than a wrapped one.
    if (!c.handshake_taken && c.synack_seen && c.synack_ts >= c.mru_syn_ts && ts >= c.synack_ts && !(flags & kRst)) {
      c.handshake_rtt = c.first_rtt;
      c.server_rtt = c.synack_ts - c.mru_syn_ts;
      c.client_rtt = ts - c.synack_ts;
    }
    completed = !c.handshake_taken && c.synack_seen && !(flags & kRst);
    c.handshake_taken = true;
  }
  return completed;
}

// tshark's tcp_analyze_sequence_number, reduced to what decides the flags we count: zero
// window, retransmission (plain, fast and spurious all carry tcp.analysis.retransmission) and
// out-of-order. Keep-alives, zero-window probes and duplicate ACKs are tracked because they
// change which of those a segment gets.
void ConnTracker::analyze(Conn& c, int dir, const Decoded& d, uint64_t ts) {
  Dir& F = c.dir[dir];
  Dir& R = c.dir[1 - dir];
  const uint32_t seq = d.seq, ack = d.ack, seglen = d.payload_len, window = d.window;
  const uint8_t flags = d.tcp_flags;
  const bool sfr = (flags & (kSyn | kFin | kRst)) != 0;
  uint8_t marks = 0;

  if (seglen == 1 && seq == F.nextseq && R.window == 0) {
    marks |= kZeroWindowProbe;
  } else {
    if (window == 0 && !sfr) ++F.zero_windows;
    if (seglen <= 1 && seq == F.nextseq - 1 && !sfr) marks |= kKeepAlive;
    const bool repeats = seglen == 0 && window == F.window && seq == F.nextseq && ack == F.lastack && !sfr;
    const bool keepalive_ack = repeats && window != 0 && (R.last_flags & kKeepAlive);
    const bool probe_ack = repeats && window == 0 && (R.last_flags & kZeroWindowProbe);
    if (!keepalive_ack && !probe_ack && repeats && window != 0) F.dupacks = F.dupacks == -1 ? 1 : F.dupacks + 1;
  }
  if (ack != F.lastack) F.dupacks = 0;
  // An ACK beyond what the other side was seen sending: its segments were not captured.
  if (R.maxseqtobeacked && gt_seq(ack, R.maxseqtobeacked) && (flags & kAck)) {
    if (R.maxseqtobeacked > R.nextseq) R.maxseqtobeacked = R.nextseq;
    else R.dupacks = -1;
  }

  if ((seglen > 0 || (flags & (kSyn | kFin))) && !(marks & kKeepAlive)) {
    bool not_advanced = F.nextseq != 0 && lt_seq(seq, F.nextseq);
    if (seglen > 1 && F.nextseq - 1 == seq) not_advanced = false;  // new data after a zero-window probe
    const uint64_t since_ack = ts - R.lastack_time;
    const uint64_t since_next = ts - F.nextseq_time;
    const uint64_t reorder_ns = c.first_rtt ? c.first_rtt : kDefaultReorderNs;
    // tshark 4.0's order: spurious first (it needs no sequence check), then fast, out-of-order, plain.
    if (seglen > 0 && R.lastack && le_seq(seq + seglen, R.lastack)) {
      ++F.retransmitted;  // spurious: the receiver had acknowledged it already
    } else if (not_advanced && R.dupacks >= 2 && R.lastack == seq && since_ack < kFastRetransmitWindowNs) {
      ++F.retransmitted;  // fast retransmission
    } else if (not_advanced && since_next < reorder_ns && F.nextseq != seq + seglen + ((flags & (kSyn | kFin)) ? 1 : 0)) {
      ++F.out_of_order;
    } else if (not_advanced) {
      ++F.retransmitted;
    }
  }

  const uint32_t nextseq = seq + seglen + ((flags & (kSyn | kFin)) ? 1 : 0);
  if (!(marks & kZeroWindowProbe)) {
    if (gt_seq(nextseq, F.nextseq) || F.nextseq == 0) {
      F.nextseq = nextseq;
      F.nextseq_time = ts;
    }
    if (seq == F.maxseqtobeacked || F.maxseqtobeacked == 0) F.maxseqtobeacked = F.nextseq;
  }
  F.window = window;
  F.lastack = ack;
  F.lastack_time = ts;
  F.last_flags = marks;
}

void ConnTracker::on_gap(const StreamInfo& s, int, uint64_t len) { conns_[s.slot].missed += len; }

void ConnTracker::on_close(const StreamInfo& s, CloseReason reason, uint64_t, const char* app) {
  const Conn& c = conns_[s.slot];
  const int client = c.client < 0 ? 0 : c.client;
  FlowRecord r;
  r.uid = s.id;
  r.ends.ip_version = s.ip_version;
  r.ends.vlan = s.vlan;
  std::memcpy(r.ends.client, s.side[client].addr, 16);
  std::memcpy(r.ends.server, s.side[1 - client].addr, 16);
  r.ends.client_port = s.side[client].port;
  r.ends.server_port = s.side[1 - client].port;
  r.ts = c.first_ts;
  r.duration = (c.last_ts > c.first_ts ? c.last_ts : c.first_ts) - c.first_ts;
  const Dir& C = c.dir[client];
  const Dir& S = c.dir[1 - client];
  r.client_bytes = C.bytes;
  r.server_bytes = S.bytes;
  r.client_packets = C.packets;
  r.server_packets = S.packets;
  r.handshake_rtt = c.handshake_rtt;
  r.server_rtt = c.server_rtt;
  r.client_rtt = c.client_rtt;
  r.retransmitted_packets = C.retransmitted + S.retransmitted;
  r.out_of_order_packets = C.out_of_order + S.out_of_order;
  r.zero_window_events = C.zero_windows + S.zero_windows;
  r.missed_bytes = c.missed;
  if (c.syn_from < 0 && !c.synack_seen) {
    r.state = ConnState::kMidstream;
  } else if (!c.synack_seen && !c.answered) {
    r.state = reason == CloseReason::kRst && c.rst_from == 1 - c.syn_from ? ConnState::kRejected : ConnState::kSynUnanswered;
  } else {
    switch (reason) {
      case CloseReason::kFin: r.state = ConnState::kClosed; break;
      case CloseReason::kRst: r.state = ConnState::kReset; break;
      case CloseReason::kTimeout:
      case CloseReason::kEvicted: r.state = ConnState::kTimeout; break;
      case CloseReason::kEnd: r.state = ConnState::kEstablished; break;
    }
  }
  r.close_reason = close_reason_name(reason);
  if (app) r.app = app;
  ++records_;
  sink_.flow(r);
}

}  // namespace podspan
