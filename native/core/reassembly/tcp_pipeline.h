// The front half every stream consumer shares: decode each frame by its interface's link type,
// rebuild IP fragments, feed TCP segments to the reassembler and expire idle flows and
// datagrams as capture time advances. Events go to the StreamSink the owner supplies.
#pragma once

#include <cstdint>
#include <vector>

#include "decode/decode.h"
#include "decode/defrag.h"
#include "common/packet.h"
#include "reassembly/reassembly.h"

namespace podspan {

struct TcpPipelineStats {
  uint64_t packets = 0;
  uint64_t tcp_packets = 0;
  DecodeCounters decode;
  DefragStats defrag;
  ReassemblyStats reassembly;
};

// UDP datagrams the pipeline decoded (fragments rebuilt, tunnels opened): for analysers of
// datagram protocols (DNS) that share the pipeline's decoding.
class DatagramObserver {
 public:
  virtual ~DatagramObserver() = default;
  // payload: the captured UDP payload (len bytes, at most d.payload_len).
  virtual void on_datagram(const Decoded& d, const uint8_t* payload, uint32_t len, uint64_t ts) = 0;
};

// Every TCP packet the pipeline decoded (fragments rebuilt, tunnels opened), before reassembly:
// for observers of packets rather than streams (the Detector counts SYNs, SYN/ACKs, RSTs).
class TcpPacketObserver {
 public:
  virtual ~TcpPacketObserver() = default;
  virtual void on_tcp_packet(const Decoded& d, uint64_t ts) = 0;
};

class TcpPipeline {
 public:
  TcpPipeline(const ReassemblyConfig& reassembly, const DefragConfig& defrag, StreamSink& sink);

  void add_interface(uint16_t linktype) { linktypes_.push_back(linktype); }
  // Frames of a stable input (input_is_stable) are decoded at once but reassembled kLookahead
  // frames later, their flow and the sink's state for it prefetched meanwhile: with thousands of
  // concurrent flows, each packet otherwise waits on several cache misses in a row.
  void add(const PacketRecord& rec, const uint8_t* bytes);
  // Closes every flow (reason end) at the last capture time seen.
  void finish() {
    drain();
    reassembler_.finish(last_ts_);
  }
  void input_is_stable(const uint8_t* begin, size_t len) {
    stable_.set(begin, len);
    reassembler_.input_is_stable(begin, len);
  }
  // Every TCP segment of a tracked flow (see SegmentObserver); none by default.
  void set_segment_observer(SegmentObserver* o) { reassembler_.set_segment_observer(o); }
  // Every whole UDP datagram; none by default.
  void set_datagram_observer(DatagramObserver* o) { datagrams_ = o; }
  // Every TCP packet; none by default.
  void set_tcp_packet_observer(TcpPacketObserver* o) { tcp_packets_observer_ = o; }
  // Counters as of now (not thread-safe: call on the thread that feeds packets).
  TcpPipelineStats stats() const;

 private:
  struct Held {  // a frame decoded, waiting for its turn
    PacketRecord rec;
    const uint8_t* bytes;
    Decoded d;
    DecodeResult r;
    uint64_t hash;  // TcpReassembler::lookahead()
  };
  static constexpr size_t kLookahead = 4;

  void process(const PacketRecord& rec, const uint8_t* bytes, Decoded& d, DecodeResult r);
  void drain();
  uint16_t linktype_of(const PacketRecord& rec) const {
    return rec.iface < linktypes_.size() ? linktypes_[rec.iface] : uint16_t{kLinktypeEthernet};
  }

  Held held_[kLookahead];
  size_t held_count_ = 0, held_next_ = 0;  // held_next_: where the next frame goes
  StableInput stable_;  // input_is_stable()
  TcpReassembler reassembler_;
  Defragmenter defrag_;
  std::vector<uint8_t> datagram_[2];  // the last datagrams rebuilt from fragments (outer, inner)
  std::vector<uint16_t> linktypes_;
  uint64_t packets_ = 0, tcp_packets_ = 0;
  DecodeCounters decode_;
  uint64_t last_ts_ = 0, last_expire_ts_ = 0;
  DatagramObserver* datagrams_ = nullptr;
  TcpPacketObserver* tcp_packets_observer_ = nullptr;
};

}  // namespace podspan
