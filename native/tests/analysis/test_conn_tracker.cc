// The connection tracker through the Analyzer (no application analyser): each state and each
// counter on crafted segments, with the figures tshark's tcp.analysis gives for the same
// segments (the integration tests compare with tshark itself on captures).
#include <string>
#include <vector>

#include "check.h"
#include "kept_records.h"
#include "tcp_frames.h"
#include "analysis/analyzer.h"

using namespace podspan;
using podspan_test::Bytes;
using podspan_test::raw_tcp_frame_acked;

namespace {

using Records = podspan_test::KeptRecords;

constexpr uint8_t S = kSyn, A = kAck, F = kFin, R = kRst, P = kPsh;
constexpr uint64_t kMs = 1000000;
constexpr uint64_t kT0 = 1700000000ull * 1000000000ull;

// Client 10.0.0.1:40000, server 10.0.0.2:80; client ISN 1000, server ISN 5000.
struct Conn {
  Records out;
  Analyzer an;
  explicit Conn(uint64_t timeout_ns = 120ull * 1000000000ull) : an(options(timeout_ns), out, nullptr) {
    InterfaceInfo i;
    i.linktype = kLinktypeRaw;
    an.add_interface(i);
  }
  static AnalyzerOptions options(uint64_t timeout_ns) {
    AnalyzerOptions o;
    o.reassembly.idle_timeout_ns = timeout_ns;
    return o;
  }
  void frame(const Bytes& b, uint64_t ts) {
    PacketRecord rec;
    rec.ts_ns = ts;
    rec.caplen = rec.origlen = static_cast<uint32_t>(b.size());
    an.consume(rec, b.data());
  }
  void c(uint64_t ms, uint32_t seq, uint32_t ack, uint8_t flags, const std::string& p = "", uint16_t win = 1000) {
    frame(raw_tcp_frame_acked(1, 40000, 2, 80, seq, ack, flags, win, p), kT0 + ms * kMs);
  }
  void s(uint64_t ms, uint32_t seq, uint32_t ack, uint8_t flags, const std::string& p = "", uint16_t win = 1000) {
    frame(raw_tcp_frame_acked(2, 80, 1, 40000, seq, ack, flags, win, p), kT0 + ms * kMs);
  }
  void handshake() {  // SYN at 0 ms, SYN/ACK at 10 ms, ACK at 12 ms
    c(0, 1000, 0, S);
    s(10, 5000, 1001, S | A);
    c(12, 1001, 5001, A);
  }
  const FlowRecord& only() {
    an.finish();
    CHECK_EQ(out.flows.size(), 1u);
    static FlowRecord none;
    return out.flows.empty() ? none : out.flows[0];
  }
};

}  // namespace

TEST(conn_closed_with_rtts_bytes_packets) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "GET / HTTP/1.1\r\n\r\n");  // 18 bytes
  k.s(30, 5001, 1019, A | P, "HTTP/1.1 200 OK\r\n\r\nhello");  // 24 bytes
  k.c(31, 1019, 5025, A | F);
  k.s(32, 5025, 1020, A | F);
  k.c(33, 1020, 5026, A);  // after both FINs: the flow is closed, this ACK is not counted
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("closed"));
  CHECK_EQ(r.close_reason, std::string("fin"));
  CHECK_EQ(r.handshake_rtt, 12 * kMs);
  CHECK_EQ(r.server_rtt, 10 * kMs);
  CHECK_EQ(r.client_rtt, 2 * kMs);
  CHECK_EQ(r.client_bytes, 18u);
  CHECK_EQ(r.server_bytes, 24u);
  CHECK_EQ(r.client_packets, 4u);  // SYN, ACK, request, FIN
  CHECK_EQ(r.server_packets, 3u);  // SYN/ACK, response, FIN
  CHECK_EQ(r.ends.client_port, 40000);
  CHECK_EQ(r.ends.server_port, 80);
  CHECK_EQ(static_cast<int>(r.ends.client[3]), 1);
  CHECK_EQ(r.ts, kT0);
  CHECK_EQ(r.duration, 32 * kMs);
  CHECK_EQ(r.retransmitted_packets, 0u);
  CHECK_EQ(r.out_of_order_packets, 0u);
  CHECK_EQ(r.missed_bytes, 0u);
}

TEST(conn_rejected_by_rst) {
  Conn k;
  k.c(0, 1000, 0, S);
  k.s(1, 0, 1001, R | A);
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("rejected"));
  CHECK_EQ(r.close_reason, std::string("rst"));
  CHECK_EQ(r.handshake_rtt, kUnknownNs);  // tshark's initial_rtt: 1 ms (SYN to the RST/ACK)
  CHECK_EQ(r.server_packets, 1u);
}

TEST(conn_syn_unanswered_counts_syn_retransmissions) {
  Conn k;
  k.c(0, 1000, 0, S);
  k.c(1000, 1000, 0, S);
  k.c(3000, 1000, 0, S);
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("syn_unanswered"));
  CHECK_EQ(r.close_reason, std::string("end"));
  CHECK_EQ(r.client_packets, 3u);
  CHECK_EQ(r.retransmitted_packets, 2u);  // tshark flags repeated SYNs as retransmissions
  CHECK_EQ(r.handshake_rtt, kUnknownNs);
}

TEST(conn_reset_after_handshake) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | R);
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("reset"));
  CHECK_EQ(r.handshake_rtt, 12 * kMs);
}

TEST(conn_established_at_end_and_timeout) {
  {
    Conn k;
    k.handshake();
    const FlowRecord& r = k.only();
    CHECK_EQ(conn_state_name(r.state), std::string("established"));
    CHECK_EQ(r.close_reason, std::string("end"));
  }
  {
    Conn k(5ull * 1000000000ull);
    k.handshake();
    // Another connection 10 s later: the first one is idle past the 5 s timeout.
    k.frame(raw_tcp_frame_acked(3, 41000, 2, 80, 1, 0, S, 1000, ""), kT0 + 10000 * kMs);
    k.an.finish();
    CHECK_EQ(k.out.flows.size(), 2u);
    CHECK_EQ(conn_state_name(k.out.flows[0].state), std::string("timeout"));
    CHECK_EQ(k.out.flows[0].close_reason, std::string("timeout"));
  }
}

TEST(conn_midstream_server_is_the_lower_port) {
  Conn k;
  k.s(0, 5001, 1001, A | P, "response");  // the server speaks first
  k.c(1, 1001, 5009, A);
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("midstream"));
  CHECK_EQ(r.ends.server_port, 80);
  CHECK_EQ(r.ends.client_port, 40000);
  CHECK_EQ(r.server_bytes, 8u);
  CHECK_EQ(r.client_bytes, 0u);
  CHECK_EQ(r.handshake_rtt, kUnknownNs);
}

TEST(conn_retransmission_after_timeout) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "abcd");
  k.c(220, 1001, 5001, A | P, "abcd");  // RTO: 200 ms later, not acknowledged
  k.s(230, 5001, 1005, A);
  const FlowRecord& r = k.only();
  CHECK_EQ(r.retransmitted_packets, 1u);
  CHECK_EQ(r.out_of_order_packets, 0u);
  CHECK_EQ(r.client_bytes, 8u);  // retransmissions included
}

TEST(conn_out_of_order_within_the_rtt) {
  Conn k;
  k.handshake();
  k.c(20, 1005, 5001, A | P, "efgh");  // the second segment first
  k.c(21, 1001, 5001, A | P, "abcd");  // 1 ms later: within the 12 ms initial RTT
  k.s(30, 5001, 1009, A);
  const FlowRecord& r = k.only();
  CHECK_EQ(r.out_of_order_packets, 1u);
  CHECK_EQ(r.retransmitted_packets, 0u);
  CHECK_EQ(r.missed_bytes, 0u);
}

TEST(conn_fast_and_spurious_retransmissions_count) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "aaaa");  // lost on the way to the server
  k.c(21, 1005, 5001, A | P, "bbbb");
  k.s(30, 5001, 1001, A);               // three duplicate ACKs for 1001
  k.s(31, 5001, 1001, A);
  k.s(32, 5001, 1001, A);
  k.c(40, 1001, 5001, A | P, "aaaa");  // fast retransmission (after the reorder threshold: 19 ms since 1009)
  k.s(50, 5001, 1009, A);
  k.c(300, 1001, 5001, A | P, "aaaa");  // spurious: already acknowledged
  const FlowRecord& r = k.only();
  CHECK_EQ(r.retransmitted_packets, 2u);
  CHECK_EQ(r.out_of_order_packets, 0u);
}

TEST(conn_keepalive_is_no_retransmission) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "abcd");
  k.s(21, 5001, 1005, A);
  k.c(5000, 1004, 5001, A);  // keep-alive: seq one before the next
  k.s(5001, 5001, 1005, A);
  const FlowRecord& r = k.only();
  CHECK_EQ(r.retransmitted_packets, 0u);
  CHECK_EQ(r.client_packets, 4u);
}

TEST(conn_zero_window_events) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "abcd");
  k.s(21, 5001, 1005, A, "", 0);      // zero window
  k.c(300, 1005, 5001, A | P, "e");   // zero-window probe: not a zero window, not a retransmission
  k.s(301, 5001, 1005, A, "", 0);     // zero window again (the probe's ACK)
  k.s(400, 5001, 1005, A, "", 500);   // window update
  k.c(401, 1005, 5001, A | P, "efgh");
  const FlowRecord& r = k.only();
  CHECK_EQ(r.zero_window_events, 2u);
  CHECK_EQ(r.retransmitted_packets, 0u);
}

TEST(conn_missed_bytes_from_gaps) {
  Conn k;
  k.handshake();
  k.c(20, 1001, 5001, A | P, "abcd");
  k.c(21, 1011, 5001, A | P, "klmn");  // 1005..1010 never captured
  k.c(22, 1015, 5001, A | F);
  k.s(23, 5001, 1016, A | F);
  const FlowRecord& r = k.only();
  CHECK_EQ(r.missed_bytes, 6u);
  CHECK_EQ(conn_state_name(r.state), std::string("closed"));
}

// Found by the corpus comparison: tshark checks for a spurious retransmission before anything
// else, and a repeated SYN or FIN counts its sequence byte when telling reordering from
// retransmission. Both were out-of-order here before.
TEST(conn_spurious_within_the_rtt_and_quick_syn_retransmission) {
  {
    Conn k;
    k.handshake();
    k.c(20, 1001, 5001, A | P, "abcd");
    k.c(20, 1005, 5001, A | P, "efgh");
    k.s(21, 5001, 1009, A);
    k.c(22, 1001, 5001, A | P, "abcd");  // 2 ms after: within the 12 ms reorder threshold, but acknowledged
    const FlowRecord& r = k.only();
    CHECK_EQ(r.retransmitted_packets, 1u);
    CHECK_EQ(r.out_of_order_packets, 0u);
  }
  {
    Conn k;
    k.c(0, 1000, 0, S);
    k.c(1, 1000, 0, S);  // 1 ms later: within the default 3 ms
    const FlowRecord& r = k.only();
    CHECK_EQ(r.retransmitted_packets, 1u);
    CHECK_EQ(r.out_of_order_packets, 0u);
  }
}

// Only the client's direction captured (asymmetric routing, a one-way mirror): the SYN/ACK is
// never seen, yet the client's ACK and data show the SYN was answered.
TEST(conn_answered_syn_without_a_captured_syn_ack_is_no_syn_unanswered) {
  Conn k;
  k.c(0, 1000, 0, S);
  k.c(12, 1001, 5001, A);
  k.c(20, 1001, 5001, A | P, "abcd");
  k.c(30, 1005, 5001, A | F);
  const FlowRecord& r = k.only();
  CHECK_EQ(conn_state_name(r.state), std::string("closed"));
  CHECK_EQ(r.handshake_rtt, kUnknownNs);  // tshark's initial_rtt: 12 ms (no SYN/ACK between: a named difference)
  CHECK_EQ(r.client_bytes, 4u);
}

// Merged captures can run backwards in time: no RTT then, never a wrapped 2^64 - x.
TEST(conn_backwards_time_gives_no_rtt) {
  Conn k;
  k.c(10, 1000, 0, S);
  k.s(20, 5000, 1001, S | A);
  k.c(15, 1001, 5001, A);  // before the SYN/ACK by its timestamp
  const FlowRecord& r = k.only();
  CHECK_EQ(r.handshake_rtt, kUnknownNs);
  CHECK_EQ(r.client_rtt, kUnknownNs);
}

// The flow table full: the least recently active connection is closed, state timeout, reason evicted.
TEST(conn_evicted_is_timeout) {
  Records out;
  AnalyzerOptions o;
  o.reassembly.max_flows = 1;
  Analyzer an(o, out, nullptr);
  InterfaceInfo i;
  i.linktype = kLinktypeRaw;
  an.add_interface(i);
  auto feed = [&](const Bytes& b, uint64_t ts) {
    PacketRecord rec;
    rec.ts_ns = ts;
    rec.caplen = rec.origlen = static_cast<uint32_t>(b.size());
    an.consume(rec, b.data());
  };
  feed(raw_tcp_frame_acked(1, 40000, 2, 80, 1000, 0, S, 1000, ""), kT0);
  feed(raw_tcp_frame_acked(2, 80, 1, 40000, 5000, 1001, S | A, 1000, ""), kT0 + kMs);
  feed(raw_tcp_frame_acked(3, 40001, 2, 80, 7000, 0, S, 1000, ""), kT0 + 2 * kMs);
  an.finish();
  CHECK_EQ(out.flows.size(), 2u);
  if (out.flows.size() == 2) {
    CHECK_EQ(conn_state_name(out.flows[0].state), std::string("timeout"));
    CHECK_EQ(out.flows[0].close_reason, std::string("evicted"));
    CHECK_EQ(conn_state_name(out.flows[1].state), std::string("syn_unanswered"));
  }
}
