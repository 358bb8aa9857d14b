// libFuzzer target: ShadowExtractor driven by a script of stream events (open with or without a
// SYN, data cut wherever the input says, gaps, close) on a few slots, in HTTP or raw mode, with
// small caps (pending requests, body and request bytes) so every limit is reached. Data may begin
// with a real message start (requests, responses, 100 Continue, 101, HEAD, a ClientHello, the
// HTTP/2 preface and frames). It must not crash, every row must follow its layout with its slices
// inside the batch's data (rows_to_json reads them back), and the exchange rows must be as many as
// its counter says.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "shadow/exchange_rows.h"
#include "shadow/extractor.h"
#include "stream_script.h"

namespace {

using podspan_fuzz::Start;
#define START PODSPAN_FUZZ_START
const Start kStarts[] = {
    START(""),
    START("GET /a/1?x HTTP/1.1\r\nHost: h\r\n\r\n"),
    START("POST /p HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
    START("PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
    START("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
    START("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    START("HTTP/1.0 200 OK\r\n\r\n"),
    START("HTTP/1.1 100 Continue\r\n\r\n"),
    START("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
    START("HEAD / HTTP/1.1\r\n\r\n"),
    START("\x16\x03\x01\x00\x05\x01"),
    START("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    START("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    START("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    START("\x00\x00\x00\x04\x00\x00\x00\x00\x00"),  // an HTTP/2 SETTINGS frame header
};
#undef START
constexpr int kSlots = 3;

// Every row reads back (its layout, its slices inside data); the exchanges among them (http, h2,
// turn) are counted.
void check_batch(const podspan::ExchangeBatch& b, uint64_t& exchanges) {
  std::string text;
  if (!podspan::rows_to_json(b.meta, b.data.size(), text, nullptr)) __builtin_trap();
  for (size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) {
    if (text.compare(at, 12, "{\"t\":\"http\",") == 0 || text.compare(at, 12, "{\"t\":\"turn\",") == 0 ||
        text.compare(at, 10, "{\"t\":\"h2\",") == 0) {
      ++exchanges;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  if (size < 1) return 0;
  podspan_fuzz::Script in(data, size);
  auto byte = [&]() -> uint8_t { return in.byte(); };
  const uint8_t mode = byte();
  ShadowOptions o;
  o.raw = mode & 1;
  if (mode & 2) o.methods = {"GET", "HEAD"};
  if (mode & 4) o.server_ports = {8080};
  o.percent = (mode & 8) ? 50 : 100;
  o.max_body_bytes = 16;
  o.max_request_bytes = 24;
  o.max_pending_requests = 3;
  ExchangeQueueOptions qo;
  qo.batch_max_bytes = 512;
  qo.queue_max_batches = 1 << 20;
  ExchangeQueue q(qo);
  ShadowExtractor x(o, q);
  StreamInfo info[kSlots];
  bool open[kSlots] = {};
  uint64_t offset[kSlots][2] = {};
  uint64_t next_id = 1, ts = 1;
  std::string buf;
  while (in.more()) {
    const uint8_t op = byte() % 4;
    const int slot = byte() % kSlots;
    ts += byte();
    StreamInfo& s = info[slot];
    switch (op) {
      case 0: {
        if (open[slot]) break;
        s = StreamInfo{};
        s.id = next_id++;
        s.slot = static_cast<uint32_t>(slot);
        s.side[0].port = static_cast<uint16_t>(40000 + slot);
        s.side[1].port = (byte() & 1) ? 8080 : 80;
        s.side[1].addr[15] = 1;
        open[slot] = true;
        offset[slot][0] = offset[slot][1] = 0;
        x.on_open(s);
        x.on_first_segment(s, static_cast<int>(byte() % 3) - 1);
        break;
      }
      case 1:
        if (open[slot]) podspan_fuzz::data_step(x, s, offset[slot], in, kStarts, buf, ts);
        break;
      case 2:
        if (open[slot]) podspan_fuzz::gap_step(x, s, offset[slot], in);
        break;
      default:
        if (!open[slot]) break;
        x.on_close(s, CloseReason::kFin, ts);
        open[slot] = false;
        break;
    }
  }
  for (int slot = 0; slot < kSlots; ++slot) {
    if (open[slot]) x.on_close(info[slot], CloseReason::kEnd, ts);
  }
  q.maybe_push(true);
  ExchangeBatch b;
  uint64_t exchanges = 0;
  while (q.take(b)) check_batch(b, exchanges);
  if (exchanges != x.stats().exchanges || q.stats().dropped_batches != 0) __builtin_trap();
  return 0;
}
