// The connection tracker: TCP health per connection (one FlowRecord each), fed every segment by
// the reassembler's SegmentObserver hook and the stream's open/gap/close events. Retransmissions,
// out-of-order segments, zero windows and the handshake RTT follow tshark's tcp.analysis
// definitions (epan/dissectors/packet-tcp.c, tcp_analyze_sequence_number) so the two agree per
// connection; the differences that remain are listed in README.md (Analytics).
// Per-connection state lives in an array indexed by StreamInfo::slot: no allocation per packet.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/records.h"
#include "decode/decode.h"
#include "reassembly/reassembly.h"

namespace podspan {

class ConnTracker {
 public:
  explicit ConnTracker(RecordSink& sink) : sink_(sink) {}

  void on_open(const StreamInfo& s);
  // True when this segment completed the connection's handshake (the ACK of its SYN/ACK).
  bool on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts);
  void on_gap(const StreamInfo& s, int dir, uint64_t len);
  // Emits the connection's record; `app` ("http", "" ...) goes into FlowRecord::app.
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts, const char* app);
  void prefetch(uint32_t slot) const {
    if (slot < conns_.size()) __builtin_prefetch(&conns_[slot]);
  }
  // Which side (0 or 1 of StreamInfo::side) is the client: the SYN's sender, else the SYN/ACK's
  // receiver, else (picked up midstream) the side with the higher port. -1 before any segment.
  int client_side(uint32_t slot) const { return slot < conns_.size() ? conns_[slot].client : -1; }

  uint64_t records() const { return records_; }

 private:
  // tshark's per-direction sequence analysis state (tcp_analyze_seq_info), the part that
  // decides retransmission, out-of-order and zero-window flags. 0 means "not seen" as in tshark.
  struct Dir {
    uint32_t nextseq = 0;          // highest seq + len (+1 for SYN/FIN) seen
    uint32_t maxseqtobeacked = 0;  // highest contiguous nextseq (tshark's "ACKed unseen" check)
    uint32_t lastack = 0;          // the ack field of the last segment
    uint32_t window = UINT32_MAX;  // the last segment's window (unknown: not zero)
    int32_t dupacks = 0;           // duplicate ACKs in a row (-1: after an ACK of unseen data)
    uint8_t last_flags = 0;        // kKeepAlive / kZeroWindowProbe of the last segment
    uint64_t nextseq_time = 0, lastack_time = 0;
    uint64_t bytes = 0, packets = 0;
    uint32_t retransmitted = 0, out_of_order = 0, zero_windows = 0;
  };
  struct Conn {
    Dir dir[2];
    uint64_t first_ts = 0, last_ts = 0;
    uint64_t mru_syn_ts = 0;      // the latest SYN (without ACK)
    uint64_t synack_ts = 0;       // the latest SYN/ACK
    uint64_t first_rtt = 0;       // tshark's tcp.analysis.initial_rtt (0: not yet)
    uint64_t handshake_rtt = kUnknownNs, server_rtt = kUnknownNs, client_rtt = kUnknownNs;
    uint64_t missed = 0;
    int8_t client = -1;           // see client_side()
    int8_t syn_from = -1;         // side that sent the first SYN, -1: none seen
    bool synack_seen = false;
    // The SYN was answered even if its SYN/ACK was not captured: the SYN's sender went on (an
    // ACK or data without SYN) or the other side sent anything but a RST.
    bool answered = false;
    bool handshake_taken = false;  // the first ACK after a SYN came (handshake_rtt or not)
    int8_t rst_from = -1;         // side that sent a RST
  };

  void analyze(Conn& c, int dir, const Decoded& d, uint64_t ts);

  RecordSink& sink_;
  std::vector<Conn> conns_;
  uint64_t records_ = 0;
};

}  // namespace podspan
