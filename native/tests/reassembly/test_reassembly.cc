// TcpReassembler against the exact bytes each test sends: order, retransmissions, overlaps
// (first wins), sequence wrap, mid-stream pick-up, FIN/RST, port reuse, gaps on timeout and
// over the buffer caps, and eviction.
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "check.h"
#include "heap.h"
#include "reassembly/reassembly.h"

using namespace podspan;

namespace {

struct Recorder : StreamSink {
  std::map<std::pair<uint64_t, int>, std::string> bytes;  // gaps as '\0'
  std::map<uint64_t, StreamInfo> opened;
  std::map<uint64_t, CloseReason> closed;
  uint64_t gap_events = 0;
  void on_open(const StreamInfo& i) override { opened[i.id] = i; }
  void on_data(const StreamInfo& info, int dir, uint64_t off, const uint8_t* d, uint32_t n, uint64_t) override {
    std::string& s = bytes[{info.id, dir}];
    CHECK_EQ(off, static_cast<uint64_t>(s.size()));
    s.append(reinterpret_cast<const char*>(d), n);
  }
  void on_gap(const StreamInfo& info, int dir, uint64_t off, uint64_t n) override {
    std::string& s = bytes[{info.id, dir}];
    CHECK_EQ(off, static_cast<uint64_t>(s.size()));
    s.append(static_cast<size_t>(n), '\0');
    ++gap_events;
  }
  void on_close(const StreamInfo& info, CloseReason r, uint64_t) override { closed[info.id] = r; }
  std::string stream(uint64_t id, int dir) { return bytes[std::make_pair(id, dir)]; }
};

// A client 10.0.0.1:40000 talking to 10.0.0.2:80.
struct Conn {
  TcpReassembler& r;
  uint16_t cport = 40000;
  void send(bool from_client, uint32_t seq, uint8_t flags, const std::string& data, uint64_t ts = 1) {
    Decoded d;
    d.ip_version = 4;
    d.protocol = 6;
    uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
    std::memcpy(d.src, from_client ? c : s, 4);
    std::memcpy(d.dst, from_client ? s : c, 4);
    d.sport = from_client ? cport : 80;
    d.dport = from_client ? 80 : cport;
    d.seq = seq;
    d.tcp_flags = flags;
    d.payload_offset = 0;
    d.payload_len = static_cast<uint32_t>(data.size());
    d.captured_payload = d.payload_len;
    r.add(d, reinterpret_cast<const uint8_t*>(data.data()), ts);
  }
};

}  // namespace

TEST(reassembly_in_order_both_directions_closed_by_fin) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(true, 1000, kSyn, "");
  c.send(false, 5000, kSyn | kAck, "");
  c.send(true, 1001, kAck, "GET / HTTP/1.1\r\n");
  c.send(false, 5001, kAck, "HTTP/1.1 200 OK\r\n");
  c.send(true, 1017, kAck, "\r\n");
  c.send(true, 1019, kFin | kAck, "");
  c.send(false, 5018, kFin | kAck, "");
  CHECK_EQ(rec.opened.size(), 1u);
  CHECK_EQ(rec.opened[1].side[0].port, 40000);
  CHECK_EQ(rec.stream(1, 0), std::string("GET / HTTP/1.1\r\n\r\n"));
  CHECK_EQ(rec.stream(1, 1), std::string("HTTP/1.1 200 OK\r\n"));
  CHECK(rec.closed[1] == CloseReason::kFin);
  CHECK_EQ(r.stats().flows, 0u);
}

TEST(reassembly_reorders_and_delivers_retransmissions_once) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(true, 0, kSyn, "");
  c.send(true, 11, kAck, "world");   // ahead
  c.send(true, 6, kAck, "there");    // ahead
  c.send(true, 1, kAck, "hello");    // fills the hole
  c.send(true, 1, kAck, "hello");    // retransmission
  c.send(true, 6, kAck, "there");    // retransmission
  c.send(true, 15, kAck, "d");       // keep-alive style probe of the last byte
  CHECK_EQ(rec.stream(1, 0), std::string("hellothereworld"));
  CHECK_EQ(r.stats().retransmitted_bytes, 11u);
  CHECK_EQ(r.stats().buffered_bytes, 0u);
}

TEST(reassembly_overlaps_first_wins_and_conflicts_are_counted) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(true, 0, kSyn, "");
  c.send(true, 5, kAck, "BBBBB");     // buffered [5,10) -> offsets 4..8
  c.send(true, 3, kAck, "XXxxxxxY");  // offsets 2..9: 4..8 overlap the buffered bytes
  c.send(true, 1, kAck, "AA");
  CHECK_EQ(rec.stream(1, 0), std::string("AAXXBBBBBY"));
  CHECK_EQ(r.stats().overlap_bytes, 5u);
  CHECK_EQ(r.stats().overlap_conflicts, 1u);
}

TEST(reassembly_sequence_wraps) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(true, 0xfffffff0u, kSyn, "");
  c.send(true, 0xfffffff1u, kAck, std::string(20, 'a'));   // crosses 2^32
  c.send(true, 0x00000005u + 20u, kAck, "cc");             // out of order, after the wrap
  c.send(true, 0x00000005u, kAck, std::string(20, 'b'));
  CHECK_EQ(rec.stream(1, 0), std::string(20, 'a') + std::string(20, 'b') + "cc");
}

TEST(reassembly_picks_up_mid_stream_without_syn) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(false, 777, kAck, "response ");  // the server speaks first in what we see
  c.send(false, 786, kAck, "body");
  CHECK_EQ(rec.opened[1].side[0].port, 80);  // side 0 is whoever we saw first
  CHECK_EQ(rec.stream(1, 0), std::string("response body"));
}

TEST(reassembly_rst_closes_and_a_new_syn_starts_a_new_stream) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Conn c{r};
  c.send(true, 100, kSyn, "");
  c.send(true, 101, kAck, "one");
  c.send(true, 104, kRst, "");
  CHECK(rec.closed[1] == CloseReason::kRst);
  c.send(true, 9000, kSyn, "");
  c.send(true, 9001, kAck, "two");
  c.send(true, 9004, kFin | kAck, "");
  CHECK_EQ(rec.opened.size(), 2u);
  CHECK_EQ(rec.stream(2, 0), std::string("two"));
  CHECK(rec.closed[2] == CloseReason::kFin);
  // Reused without our seeing the end of the first: the new SYN closes it.
  c.cport = 41000;
  c.send(true, 1, kSyn, "");
  c.send(true, 2, kAck, "a");
  c.send(true, 555, kSyn, "");
  CHECK(rec.closed[3] == CloseReason::kEnd);
  CHECK_EQ(rec.opened.size(), 4u);
}

TEST(reassembly_missing_data_becomes_a_gap_on_timeout) {
  Recorder rec;
  ReassemblyConfig cfg;
  cfg.idle_timeout_ns = 1000;
  TcpReassembler r(cfg, rec);
  Conn c{r};
  c.send(true, 0, kSyn, "", 10);
  c.send(true, 1, kAck, "abc", 20);
  c.send(true, 14, kAck, "xyz", 30);  // 10 bytes [4..13] never arrive
  r.expire(500);
  CHECK(rec.closed.empty());
  r.expire(2000);
  CHECK(rec.closed[1] == CloseReason::kTimeout);
  CHECK_EQ(rec.stream(1, 0), std::string("abc") + std::string(10, '\0') + "xyz");
  CHECK_EQ(r.stats().gaps, 1u);
  CHECK_EQ(r.stats().gap_bytes, 10u);
}

// Bytes after a hole no packet fills keep their own capture times when the hole is given up (at
// the end, at the idle timeout, over a cap): stamped with the time of giving up, every response
// after a lost segment looked as late as the end of the capture (wrong latencies in analytics).
TEST(reassembly_bytes_after_an_unfilled_hole_keep_their_capture_times) {
  struct Times : StreamSink {
    std::vector<std::pair<uint64_t, uint64_t>> data;  // (offset, ts) of direction 1
    void on_open(const StreamInfo&) override {}
    void on_data(const StreamInfo&, int dir, uint64_t off, const uint8_t*, uint32_t, uint64_t ts) override {
      if (dir == 1) data.emplace_back(off, ts);
    }
    void on_gap(const StreamInfo&, int, uint64_t, uint64_t) override {}
    void on_close(const StreamInfo&, CloseReason, uint64_t) override {}
  } times;
  TcpReassembler r({}, times);
  Conn c{r};
  c.send(true, 1000, kSyn, "", 100);
  c.send(false, 5000, kSyn | kAck, "", 110);
  c.send(false, 5001, kAck, "aaaa", 200);   // offset 0, in order
  c.send(false, 5009, kAck, "cccc", 300);   // offset 8: "bbbb" at 4 is never captured
  c.send(false, 5013, kAck, "dddd", 400);   // offset 12
  c.send(false, 5003, kAck, "aa", 450);     // a retransmission: fills nothing
  r.finish(1000);
  CHECK_EQ(times.data.size(), 3u);
  CHECK_EQ(times.data[0].second, 200u);
  CHECK_EQ(times.data[1].first, 8u);
  CHECK_EQ(times.data[1].second, 300u);  // was 1000, the time of finish()
  CHECK_EQ(times.data[2].second, 400u);
  // A hole filled by a later packet: what waited behind it comes out at that packet's time.
  Times filled;
  TcpReassembler r2({}, filled);
  Conn c2{r2};
  c2.send(true, 1000, kSyn, "", 100);
  c2.send(false, 5000, kSyn | kAck, "", 110);
  c2.send(false, 5001, kAck, "aaaa", 200);
  c2.send(false, 5009, kAck, "cccc", 300);
  c2.send(false, 5005, kAck, "bbbb", 500);
  CHECK_EQ(filled.data.size(), 3u);
  CHECK_EQ(filled.data[1].second, 500u);
  CHECK_EQ(filled.data[2].second, 500u);
}

TEST(reassembly_buffer_cap_turns_the_hole_into_a_gap) {
  Recorder rec;
  ReassemblyConfig cfg;
  cfg.max_buffer_per_flow = TcpReassembler::segment_cost(5) + TcpReassembler::segment_cost(3);
  TcpReassembler r(cfg, rec);
  Conn c{r};
  c.send(true, 0, kSyn, "");
  c.send(true, 1, kAck, "ab");
  c.send(true, 10, kAck, "12345");   // hole of 7 bytes, 5 buffered
  CHECK_EQ(r.stats().buffered_bytes, 5u);
  c.send(true, 16, kAck, "789");     // not adjacent: a second segment
  CHECK_EQ(r.stats().buffered_bytes, 8u);
  c.send(true, 15, kAck, "6");       // a third: over the cap, the hole is given up
  CHECK_EQ(rec.stream(1, 0), std::string("ab") + std::string(7, '\0') + "123456789");
  CHECK_EQ(r.stats().buffered_bytes, 0u);
  c.send(true, 3, kAck, "late!!!");  // arrives after its gap was declared: not spliced in
  CHECK_EQ(rec.stream(1, 0).size(), 18u);
}

// Tiny segments after a hole are charged their bookkeeping too: 2,000 1-byte segments are 2,000
// bytes of payload but over 200 KB of memory, so a 64 KiB cap must give the hole up.
TEST(reassembly_caps_count_what_tiny_segments_really_cost) {
  Recorder rec;
  ReassemblyConfig cfg;
  cfg.max_buffer_total = 64 << 10;
  TcpReassembler r(cfg, rec);
  Conn c{r};
  c.send(true, 0, kSyn, "");
  for (uint32_t i = 0; i < 2000; ++i) c.send(true, 3 + 2 * i, kAck, "x");  // every other byte, after a hole
  CHECK(r.stats().gaps > 0);
  // At most one segment over the cap, the one that crossed it, before the hole is given up.
  CHECK(r.stats().peak_buffered_memory <= cfg.max_buffer_total + TcpReassembler::segment_cost(1));
  CHECK(r.stats().buffered_memory <= cfg.max_buffer_total);
  CHECK(r.stats().buffered_bytes * TcpReassembler::segment_cost(1) == r.stats().buffered_memory);
  r.finish(2);
  CHECK_EQ(r.stats().buffered_memory, 0u);
}

#if defined(PODSPAN_GLIBC_MALLOC)
// The charge matches what malloc really hands out (glibc; sanitizer builds replace malloc).
TEST(reassembly_segment_cost_matches_the_heap) {
  for (const std::string& payload : {std::string("x"), std::string(100, 'y'), std::string(1000, 'z')}) {
    Recorder rec;
    TcpReassembler r(ReassemblyConfig{}, rec);
    Conn c{r};
    c.send(true, 0, kSyn, "");
    c.send(true, 5, kAck, payload);  // the first one allocates the direction's map too
    const size_t before = mallinfo2().uordblks;
    const uint32_t n = 2000, stride = static_cast<uint32_t>(payload.size()) + 1;
    for (uint32_t i = 1; i <= n; ++i) c.send(true, 5 + i * stride, kAck, payload);
    const double real = static_cast<double>(mallinfo2().uordblks - before) / n;
    const double charged = static_cast<double>(TcpReassembler::segment_cost(payload.size()));
    CHECK(real <= charged * 1.02);
    CHECK(real >= charged * 0.98);
    r.finish(2);
  }
}
#endif

TEST(reassembly_evicts_the_least_recently_active_flow) {
  Recorder rec;
  ReassemblyConfig cfg;
  cfg.max_flows = 2;
  TcpReassembler r(cfg, rec);
  Conn a{r, 1}, b{r, 2}, c{r, 3};
  a.send(true, 0, kSyn, "");
  b.send(true, 0, kSyn, "");
  a.send(true, 1, kAck, "x");  // a is now more recent than b
  c.send(true, 0, kSyn, "");
  CHECK(rec.closed.count(2) == 1);
  CHECK(rec.closed[2] == CloseReason::kEvicted);
  CHECK_EQ(r.stats().flows, 2u);
  r.finish(100);
  CHECK(rec.closed[1] == CloseReason::kEnd);
  CHECK_EQ(r.stats().closed[static_cast<int>(CloseReason::kEnd)], 2u);
}

TEST(reassembly_snaplen_cut_payload_is_a_gap) {
  Recorder rec;
  TcpReassembler r({}, rec);
  Decoded d;
  d.ip_version = 4;
  d.protocol = 6;
  d.src[0] = 1;
  d.dst[0] = 2;
  d.sport = 1;
  d.dport = 2;
  d.seq = 50;
  d.tcp_flags = kAck;
  d.payload_len = 100;
  d.captured_payload = 10;
  const std::string data(10, 'q');
  r.add(d, reinterpret_cast<const uint8_t*>(data.data()), 1);
  CHECK_EQ(rec.stream(1, 0), data + std::string(90, '\0'));
}

// Payload pointers seen by a sink, to tell payload lent from the input from a copy.
struct PointerRecorder : Recorder {
  std::vector<const uint8_t*> pointers;
  void on_data(const StreamInfo& info, int dir, uint64_t off, const uint8_t* d, uint32_t n, uint64_t ts) override {
    pointers.push_back(d);
    Recorder::on_data(info, dir, off, d, n, ts);
  }
};

TEST(reassembly_buffers_out_of_order_payload_of_a_stable_input_by_reference) {
  const std::string input = "helloworld";  // stands for a mapped file: it outlives the reassembler
  const auto* base = reinterpret_cast<const uint8_t*>(input.data());
  for (bool stable : {true, false}) {
    PointerRecorder rec;
    TcpReassembler r({}, rec);
    if (stable) r.input_is_stable(base, input.size());
    Decoded d;
    d.ip_version = 4;
    d.protocol = 6;
    const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    std::memcpy(d.src, a, 4);
    std::memcpy(d.dst, b, 4);
    d.sport = 40000;
    d.dport = 80;
    d.tcp_flags = kSyn;
    d.seq = 0;
    r.add(d, base, 1);
    d.tcp_flags = kAck;
    d.payload_len = d.captured_payload = 5;
    d.seq = 6;  // "world", early
    r.add(d, base + 5, 2);
    d.seq = 1;  // "hello" fills the hole and releases "world"
    r.add(d, base, 3);
    CHECK_EQ(rec.stream(1, 0), std::string("helloworld"));
    CHECK_EQ(rec.pointers.size(), 2u);
    CHECK(rec.pointers[0] == base);                    // in order: always the frame's own bytes
    CHECK_EQ(rec.pointers[1] == base + 5, stable);     // buffered: lent only from a stable input
    CHECK_EQ(r.stats().peak_buffered_bytes, 5u);       // counted against the caps either way
    // ... and charged alike, so the caps cut the same holes lent or copied (fuzz_pipeline).
    CHECK_EQ(r.stats().peak_buffered_memory, TcpReassembler::segment_cost(5));
  }
}
