// TcpPipeline's lookahead: frames of a stable input are reassembled a few frames late, with
// their flows prefetched meanwhile. That must change nothing the sink sees: the same events in
// the same order, with frames from outside the stable input slipped in between, and nothing
// held back at finish().
#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "tcp_frames.h"
#include "reassembly/tcp_pipeline.h"

using namespace podspan;

namespace {

// Every event as one line, in order.
struct Transcript : StreamSink {
  std::vector<std::string> lines;
  mutable uint64_t hints = 0;
  void prefetch(uint32_t) const override { ++hints; }
  void on_open(const StreamInfo& s) override { note("open", s.id, s.side[0].port, s.side[1].port, s.first_ts); }
  void on_data(const StreamInfo& s, int dir, uint64_t off, const uint8_t* d, uint32_t n, uint64_t ts) override {
    note("data", s.id, dir, off, ts, std::string(reinterpret_cast<const char*>(d), n));
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t off, uint64_t n) override { note("gap", s.id, dir, off, n); }
  void on_close(const StreamInfo& s, CloseReason r, uint64_t ts) override { note("close", s.id, close_reason_name(r), ts); }
  template <typename... T>
  void note(const T&... parts) {
    std::ostringstream os;
    ((os << parts << ' '), ...);
    lines.push_back(os.str());
  }
};

struct Frame {
  size_t at, len;  // in the capture buffer
  uint64_t ts;
};

// 40 connections, interleaved: handshake, segments of which some come early or twice, and a
// FIN or an RST; a few flows stay open (closed by finish()), and one 4-tuple is reused.
std::vector<uint8_t> capture(std::vector<Frame>& frames) {
  std::vector<uint8_t> buf;
  std::mt19937 rng(7);
  struct Pending {
    uint64_t ts;
    std::vector<uint8_t> bytes;
  };
  std::vector<Pending> all;
  for (int c = 0; c < 40; ++c) {
    const uint8_t client = static_cast<uint8_t>(c == 39 ? 1 : 1 + c % 7), server = 200;
    const uint16_t cport = static_cast<uint16_t>(30000 + (c == 39 ? 0 : c));  // 39 reuses 0's tuple
    const uint64_t start = (c == 39 ? 5000 : 10 * c);
    uint64_t ts = start;
    auto add = [&](bool from_client, uint32_t seq, uint8_t flags, const std::string& p) {
      all.push_back({ts += 1 + rng() % 13, from_client ? podspan_test::raw_tcp_frame(client, cport, server, 80, seq, flags, p)
                                                       : podspan_test::raw_tcp_frame(server, 80, client, cport, seq, flags, p)});
    };
    add(true, 1000, kSyn, "");
    add(false, 9000, kSyn | kAck, "");
    uint32_t seq = 1001;
    std::vector<std::pair<uint32_t, std::string>> segs;
    for (int i = 0; i < 12; ++i) {
      std::string p(5 + rng() % 40, static_cast<char>('a' + (c + i) % 26));
      segs.push_back({seq, p});
      seq += static_cast<uint32_t>(p.size());
    }
    for (size_t i = 0; i + 1 < segs.size(); i += 3) std::swap(segs[i], segs[i + 1]);  // early segments
    for (const auto& s : segs) {
      add(true, s.first, kAck, s.second);
      if (rng() % 4 == 0) add(true, s.first, kAck, s.second);  // retransmitted
    }
    add(false, 9001, kAck, "reply " + std::to_string(c));
    if (c % 5 == 1) add(true, seq, kRst, "");
    else if (c % 5 != 2) add(true, seq, kFin | kAck, ""), add(false, 9008 + (c >= 10), kFin | kAck, "");
  }
  std::stable_sort(all.begin(), all.end(), [](const Pending& a, const Pending& b) { return a.ts < b.ts; });
  for (const Pending& p : all) {
    frames.push_back({buf.size(), p.bytes.size(), p.ts});
    buf.insert(buf.end(), p.bytes.begin(), p.bytes.end());
  }
  return buf;
}

// Feeds every frame; with `stable`, the buffer is declared stable and every 10th frame is fed
// from a copy outside it (as a copied batch would be).
Transcript run(const std::vector<uint8_t>& buf, const std::vector<Frame>& frames, bool stable, TcpPipelineStats& stats) {
  Transcript t;
  TcpPipeline p(ReassemblyConfig{}, DefragConfig{}, t);
  p.add_interface(kLinktypeRaw);
  if (stable) p.input_is_stable(buf.data(), buf.size());
  std::vector<uint8_t> copy;
  for (size_t i = 0; i < frames.size(); ++i) {
    PacketRecord rec{};
    rec.ts_ns = frames[i].ts;
    rec.caplen = rec.origlen = static_cast<uint32_t>(frames[i].len);
    const uint8_t* bytes = buf.data() + frames[i].at;
    if (stable && i % 10 == 9) {
      copy.assign(bytes, bytes + frames[i].len);
      bytes = copy.data();
    }
    p.add(rec, bytes);
  }
  p.finish();
  stats = p.stats();
  return t;
}

}  // namespace

TEST(tcp_pipeline_lookahead_changes_no_event_or_its_order) {
  std::vector<Frame> frames;
  const std::vector<uint8_t> buf = capture(frames);
  TcpPipelineStats direct_stats, ahead_stats;
  const Transcript direct = run(buf, frames, false, direct_stats);
  const Transcript ahead = run(buf, frames, true, ahead_stats);
  CHECK_EQ(direct.hints, 0u);
  CHECK(ahead.hints > frames.size() / 2);  // the lookahead ran
  CHECK_EQ(ahead.lines.size(), direct.lines.size());
  for (size_t i = 0; i < direct.lines.size() && i < ahead.lines.size(); ++i) CHECK_EQ(ahead.lines[i], direct.lines[i]);
  CHECK_EQ(ahead_stats.packets, static_cast<uint64_t>(frames.size()));
  CHECK_EQ(ahead_stats.tcp_packets, direct_stats.tcp_packets);
  CHECK_EQ(ahead_stats.reassembly.bytes, direct_stats.reassembly.bytes);
  CHECK_EQ(ahead_stats.reassembly.streams, 40u);  // the reused tuple starts a stream of its own
  size_t closes = 0, fins = 0, rsts = 0, ends = 0;
  for (const std::string& l : direct.lines) {
    if (l.rfind("close", 0) != 0) continue;
    ++closes;
    fins += l.find(" fin ") != std::string::npos;
    rsts += l.find(" rst ") != std::string::npos;
    ends += l.find(" end ") != std::string::npos;
  }
  CHECK_EQ(closes, 40u);
  CHECK_EQ(rsts, 8u);  // c % 5 == 1
  CHECK_EQ(ends, 8u);  // c % 5 == 2: still open, closed by finish()
  CHECK_EQ(fins, 24u);
}

namespace {

// Each stream direction's bytes, gaps as '\0'.
struct Collected : StreamSink {
  std::map<std::pair<uint64_t, int>, std::string> bytes;
  void on_open(const StreamInfo&) override {}
  void on_data(const StreamInfo& s, int dir, uint64_t, const uint8_t* d, uint32_t n, uint64_t) override {
    bytes[{s.id, dir}].append(reinterpret_cast<const char*>(d), n);
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t, uint64_t n) override { bytes[{s.id, dir}].append(n, '\0'); }
  void on_close(const StreamInfo&, CloseReason, uint64_t) override {}
};

}  // namespace

TEST(tcp_pipeline_rebuilds_fragments_inside_a_tunnel_and_tunnels_inside_fragments) {
  using podspan_test::Bytes;
  using podspan_test::ethernet_ipv4;
  using podspan_test::ipv4;
  using podspan_test::tcp_segment;
  using podspan_test::vxlan;
  const std::string first(100, 'x'), second = "and the rest";
  // The inner datagram (10.0.0.1:40000 -> 10.0.0.2:80, 120 bytes of IP payload) in three
  // fragments, which arrive last, first, middle.
  const Bytes inner = tcp_segment(40000, 80, 1001, kAck, first);
  auto part = [&](size_t from, size_t n, bool more) {
    return vxlan(7, 8, 42, ethernet_ipv4(ipv4(1, 2, 6, Bytes(inner.begin() + from, inner.begin() + from + n), 99, static_cast<uint16_t>(from), more)));
  };
  std::vector<Bytes> frames = {
      vxlan(7, 8, 42, ethernet_ipv4(ipv4(1, 2, 6, tcp_segment(40000, 80, 1000, kSyn, "")))),
      part(96, 24, false),
      part(0, 48, true),
      part(48, 48, true),
  };
  // Then the next segment in a VXLAN packet whose outer datagram is itself fragmented.
  const Bytes whole = vxlan(7, 8, 42, ethernet_ipv4(ipv4(1, 2, 6, tcp_segment(40000, 80, 1101, kAck, second))));
  const Bytes outer_payload(whole.begin() + 20, whole.end());  // UDP onwards
  frames.push_back(ipv4(7, 8, 17, Bytes(outer_payload.begin(), outer_payload.begin() + 40), 5, 0, true));
  frames.push_back(ipv4(7, 8, 17, Bytes(outer_payload.begin() + 40, outer_payload.end()), 5, 40, false));

  Collected sink;
  TcpPipeline p(ReassemblyConfig{}, DefragConfig{}, sink);
  p.add_interface(kLinktypeRaw);
  uint64_t ts = 1000;
  for (const Bytes& f : frames) {
    PacketRecord rec{};
    rec.ts_ns = ts += 1000;
    rec.caplen = rec.origlen = static_cast<uint32_t>(f.size());
    p.add(rec, f.data());
  }
  p.finish();
  CHECK_EQ(sink.bytes.size(), 1u);
  CHECK_EQ(sink.bytes[std::make_pair(uint64_t{1}, 0)], first + second);
  const TcpPipelineStats s = p.stats();
  CHECK_EQ(s.defrag.reassembled, 2u);  // the inner datagram and the outer one
  CHECK_EQ(s.decode.tunnels_opened, 5u);  // every VXLAN packet, the rebuilt outer one among them
  CHECK_EQ(s.tcp_packets, 3u);
}
