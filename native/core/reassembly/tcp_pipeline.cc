#include "reassembly/tcp_pipeline.h"

#include <cstring>

namespace podspan {
namespace {
constexpr uint64_t kExpireEveryNs = 1000000000ull;  // expiry scans once per second of capture time
constexpr int kMaxTunnelDepth = 4;                  // GRE within GRE within ...
}

TcpPipeline::TcpPipeline(const ReassemblyConfig& reassembly, const DefragConfig& defrag, StreamSink& sink)
    : reassembler_(reassembly, sink), defrag_(defrag) {}

void TcpPipeline::add(const PacketRecord& rec, const uint8_t* bytes) {
  if (!stable_.holds(bytes, rec.caplen)) {
    drain();  // frames keep their order
    Decoded d;
    const DecodeResult r = decode_frame(bytes, rec.caplen, linktype_of(rec), d);
    process(rec, bytes, d, r);
    return;
  }
  Held& h = held_[held_next_];
  if (held_count_ == kLookahead) {  // the oldest frame sits where the new one goes
    --held_count_;
    process(h.rec, h.bytes, h.d, h.r);
  }
  h.rec = rec;
  h.bytes = bytes;
  h.r = decode_frame(bytes, rec.caplen, linktype_of(rec), h.d);
  h.hash = (h.r == DecodeResult::kOk || h.r == DecodeResult::kTruncated) && h.d.tunnel == Tunnel::kNone
               ? reassembler_.lookahead(h.d)
               : 0;
  held_next_ = (held_next_ + 1) % kLookahead;
  ++held_count_;
  // The frame before this one: its table entry has had a frame's time to arrive.
  if (held_count_ >= 2) {
    const Held& prev = held_[(held_next_ + kLookahead - 2) % kLookahead];
    if (prev.hash != 0) reassembler_.lookahead_flow(prev.hash);
  }
}

void TcpPipeline::drain() {
  while (held_count_ > 0) {
    Held& h = held_[(held_next_ + kLookahead - held_count_) % kLookahead];
    --held_count_;  // first: a frame whose processing throws is not processed again
    process(h.rec, h.bytes, h.d, h.r);
  }
}

void TcpPipeline::process(const PacketRecord& rec, const uint8_t* bytes, Decoded& d, DecodeResult r) {
  ++packets_;
  last_ts_ = rec.ts_ns;
  uint32_t caplen = rec.caplen;
  decode_.count(r, d);
  // Fragments are rebuilt into whole datagrams, and tunnels (VXLAN, GENEVE, GRE, ERSPAN) opened:
  // the stream is the TCP inside. Either may follow the other (fragments of the frame a tunnel
  // carries, a tunnel inside a rebuilt datagram), up to kMaxTunnelDepth tunnels deep.
  int depth = 0;
  int buffer = 0;  // which of datagram_[] the next rebuilt datagram goes to: never the one `bytes` is in
  bool complete = true;
  for (int step = 0; step < 2 * kMaxTunnelDepth + 2; ++step) {  // a bound, whatever a datagram holds
    if (r == DecodeResult::kOk && d.fragment) {
      std::vector<uint8_t>& out = datagram_[buffer];
      buffer ^= 1;
      if (!defrag_.add(d, bytes, caplen, rec.ts_ns, out)) {
        complete = false;  // held until the rest of its datagram arrives
        break;
      }
      // The whole datagram, decoded again as raw IP; it keeps the frame's VLAN tags.
      Decoded whole;
      r = decode_frame(out.data(), static_cast<uint32_t>(out.size()), kLinktypeRaw, whole);
      std::memcpy(whole.vlan, d.vlan, sizeof d.vlan);
      whole.vlan_count = d.vlan_count;
      d = whole;
      bytes = out.data();
      caplen = static_cast<uint32_t>(out.size());
      continue;
    }
    if (depth == kMaxTunnelDepth || d.tunnel == Tunnel::kNone || (r != DecodeResult::kOk && r != DecodeResult::kTruncated)) break;
    uint16_t inner_link = 0;
    uint32_t at = 0;
    if (!tunnel_payload(d, bytes, caplen, inner_link, at)) break;
    Decoded inner;
    const DecodeResult ri = decode_frame(bytes + at, caplen - at, inner_link, inner);
    if (ri != DecodeResult::kOk && ri != DecodeResult::kTruncated) break;
    ++depth;
    d = inner;
    r = ri;
    bytes += at;
    caplen -= at;
  }
  if (depth > 0) ++decode_.tunnels_opened;
  if (complete && (r == DecodeResult::kOk || r == DecodeResult::kTruncated) && d.protocol == 6 && !d.fragment &&
      d.l4_offset != 0 && d.payload_offset != 0) {
    ++tcp_packets_;
    if (tcp_packets_observer_) tcp_packets_observer_->on_tcp_packet(d, rec.ts_ns);
    reassembler_.add(d, bytes, rec.ts_ns);
  } else if (datagrams_ && complete && (r == DecodeResult::kOk || r == DecodeResult::kTruncated) && d.protocol == 17 &&
             !d.fragment && d.payload_offset != 0) {
    datagrams_->on_datagram(d, bytes + d.payload_offset, d.captured_payload, rec.ts_ns);
  }
  if (rec.ts_ns >= last_expire_ts_ + kExpireEveryNs) {
    reassembler_.expire(rec.ts_ns);
    defrag_.expire(rec.ts_ns);
    last_expire_ts_ = rec.ts_ns;
  }
}

TcpPipelineStats TcpPipeline::stats() const {
  TcpPipelineStats s;
  s.packets = packets_;
  s.tcp_packets = tcp_packets_;
  s.decode = decode_;
  s.defrag = defrag_.stats();
  s.reassembly = reassembler_.stats();
  return s;
}

}  // namespace podspan
