// Defragmenter: IPv4 fragments out of order, first-wins overlaps with conflicts counted, the
// IPv6 fragment header, incomplete datagrams timing out, and every limit.
#include <cstring>
#include <vector>

#include "check.h"
#include "decode/decode.h"
#include "decode/defrag.h"
#include "common/packet.h"

using namespace podspan;

namespace {

using Bytes = std::vector<uint8_t>;

// A raw IPv4 fragment of a UDP datagram: offset in bytes (multiple of 8), payload bytes.
Bytes frag4(uint16_t id, uint32_t offset, bool more, const Bytes& payload) {
  Bytes p(20, 0);
  p[0] = 0x45;
  const uint16_t total = static_cast<uint16_t>(20 + payload.size());
  p[2] = total >> 8; p[3] = total & 0xff;
  p[4] = id >> 8; p[5] = id & 0xff;
  const uint16_t fo = static_cast<uint16_t>((more ? 0x2000 : 0) | (offset / 8));
  p[6] = fo >> 8; p[7] = fo & 0xff;
  p[8] = 64; p[9] = 17;
  p[12] = 10; p[15] = 1; p[16] = 10; p[19] = 2;
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

Bytes frag6(uint32_t id, uint32_t offset, bool more, const Bytes& payload) {
  Bytes p(40, 0);
  p[0] = 0x60;
  const uint16_t len = static_cast<uint16_t>(8 + payload.size());
  p[4] = len >> 8; p[5] = len & 0xff;
  p[6] = 44; p[7] = 64; p[8] = 0x20; p[23] = 1; p[24] = 0x20; p[39] = 2;
  Bytes fh = {17, 0, static_cast<uint8_t>(offset >> 8), static_cast<uint8_t>((offset & 0xf8) | (more ? 1 : 0)),
              static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16), static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  p.insert(p.end(), fh.begin(), fh.end());
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// UDP header (8 bytes, ports 1 -> 2, length for `n` payload bytes) followed by n bytes of c.
Bytes udp_payload(size_t n, uint8_t c) {
  Bytes u = {0, 1, 0, 2, static_cast<uint8_t>((8 + n) >> 8), static_cast<uint8_t>(8 + n), 0, 0};
  u.insert(u.end(), n, c);
  return u;
}

bool feed(Defragmenter& df, const Bytes& frame, uint64_t ts, Bytes& out) {
  Decoded d;
  decode_frame(frame.data(), static_cast<uint32_t>(frame.size()), kLinktypeRaw, d);
  CHECK(d.fragment);
  return df.add(d, frame.data(), static_cast<uint32_t>(frame.size()), ts, out);
}

}  // namespace

TEST(defrag_ipv4_out_of_order_rebuilds_the_datagram) {
  Defragmenter df;
  const Bytes whole = udp_payload(40, 'x');  // 48 bytes: fragments of 16
  Bytes out;
  CHECK(!feed(df, frag4(7, 32, false, Bytes(whole.begin() + 32, whole.end())), 1, out));
  CHECK(!feed(df, frag4(7, 0, true, Bytes(whole.begin(), whole.begin() + 16)), 2, out));
  CHECK(feed(df, frag4(7, 16, true, Bytes(whole.begin() + 16, whole.begin() + 32)), 3, out));
  CHECK_EQ(out.size(), 20u + 48u);
  Decoded d;
  CHECK(decode_frame(out.data(), static_cast<uint32_t>(out.size()), kLinktypeRaw, d) == DecodeResult::kOk);
  CHECK(!d.fragment);
  CHECK_EQ(d.dport, 2);
  CHECK_EQ(d.payload_len, 40u);
  CHECK_EQ(df.stats().reassembled, 1u);
  CHECK_EQ(df.stats().bytes_held, 0u);
}

TEST(defrag_overlaps_first_wins_and_conflicts_counted) {
  Defragmenter df;
  Bytes out;
  const Bytes head = udp_payload(8, 'a');  // 16 bytes
  CHECK(!feed(df, frag4(9, 0, true, head), 1, out));
  CHECK(!feed(df, frag4(9, 8, true, Bytes(8, 'Z')), 2, out));  // rewrites bytes 8..15
  CHECK(feed(df, frag4(9, 16, false, Bytes(8, 'b')), 3, out));
  CHECK_EQ(std::string(out.begin() + 28, out.begin() + 36), std::string(8, 'a'));
  CHECK_EQ(df.stats().overlap_bytes, 8u);
  CHECK_EQ(df.stats().overlap_conflicts, 1u);
}

TEST(defrag_ipv6_fragment_header) {
  Defragmenter df;
  const Bytes whole = udp_payload(24, 'q');  // 32 bytes
  Bytes out;
  CHECK(!feed(df, frag6(0xabcd, 0, true, Bytes(whole.begin(), whole.begin() + 16)), 1, out));
  CHECK(feed(df, frag6(0xabcd, 16, false, Bytes(whole.begin() + 16, whole.end())), 2, out));
  Decoded d;
  CHECK(decode_frame(out.data(), static_cast<uint32_t>(out.size()), kLinktypeRaw, d) == DecodeResult::kOk);
  CHECK_EQ(d.ip_version, 6);
  CHECK_EQ(d.protocol, 17);
  CHECK_EQ(d.payload_len, 24u);
}

TEST(defrag_incomplete_datagrams_time_out) {
  DefragConfig cfg;
  cfg.timeout_ns = 100;
  Defragmenter df(cfg);
  Bytes out;
  feed(df, frag4(1, 0, true, udp_payload(8, 'a')), 10, out);
  df.expire(50);
  CHECK_EQ(df.stats().datagrams, 1u);
  df.expire(200);
  CHECK_EQ(df.stats().datagrams, 0u);
  CHECK_EQ(df.stats().timed_out, 1u);
  CHECK_EQ(df.stats().bytes_held, 0u);
}

TEST(defrag_limits_drop_and_count) {
  DefragConfig cfg;
  cfg.max_fragments = 3;
  cfg.max_datagrams = 2;
  Defragmenter df(cfg);
  Bytes out;
  for (uint32_t i = 0; i < 5; ++i) feed(df, frag4(1, i * 8, true, Bytes(8, 'x')), i, out);  // a flood of one datagram
  CHECK_EQ(df.stats().dropped, 1u);  // the 4th drops the datagram, the 5th starts a new one
  feed(df, frag4(2, 0, true, Bytes(8, 'x')), 9, out);
  feed(df, frag4(3, 0, true, Bytes(8, 'x')), 9, out);  // a third datagram in progress: over the limit
  CHECK_EQ(df.stats().datagrams, 2u);
  CHECK_EQ(df.stats().dropped, 2u);
  // Beyond 64 KiB, and a non-final fragment not a multiple of 8: impossible, dropped.
  feed(df, frag4(4, 65528, true, Bytes(16, 'x')), 9, out);
  feed(df, frag4(5, 0, true, Bytes(7, 'x')), 9, out);
  CHECK_EQ(df.stats().dropped, 4u);
}
