// StreamEventQueue: raw IPv4 frames in, batches of open/data/gap/close records out; the bytes
// rebuilt from the events equal what was sent; a full queue turns live payload into counted
// queue-drop gaps; reading a file waits for room; abandon() releases a waiting producer.
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "reassembly/stream_events.h"
#include "tcp_frames.h"

using namespace podspan;

namespace {

using Bytes = std::vector<uint8_t>;

// A raw IPv4 TCP frame from 10.0.0.1:40000 (client) or 10.0.0.2:80.
Bytes frame(bool from_client, uint32_t seq, uint8_t flags, const std::string& payload) {
  return from_client ? podspan_test::raw_tcp_frame(1, 40000, 2, 80, seq, flags, payload)
                     : podspan_test::raw_tcp_frame(2, 80, 1, 40000, seq, flags, payload);
}

InterfaceInfo raw_interface() {
  InterfaceInfo i;
  i.name = "raw";
  i.linktype = kLinktypeRaw;
  return i;
}

struct Feeder {
  StreamEventQueue& q;
  uint64_t ts = 1000000000ull;
  // The raw interface and a handshake: client data starts at seq 101, the server's at 901.
  void open_connection() {
    q.add_interface(raw_interface());
    send(true, 100, kSyn, "");
    send(false, 900, kSyn | kAck, "");
  }
  void send(bool from_client, uint32_t seq, uint8_t flags, const std::string& payload) {
    const Bytes f = frame(from_client, seq, flags, payload);
    PacketRecord rec{};
    rec.ts_ns = ts += 1000;
    rec.caplen = rec.origlen = static_cast<uint32_t>(f.size());
    q.consume(rec, f.data());
  }
};

// Rebuilds each stream direction from the events; gaps as '\0', queue-drop gaps as '#'.
struct Rebuilt {
  std::map<std::pair<uint64_t, int>, std::string> bytes;
  std::map<uint64_t, StreamOpenInfo> opened;
  std::map<uint64_t, uint8_t> closed;
  uint64_t queue_gap_bytes = 0;
  void add(const StreamEventBatch& b) {
    for (const StreamEventRecord& e : b.events) {
      std::string& s = bytes[{e.stream_id, e.dir}];
      switch (static_cast<StreamEventType>(e.type)) {
        case StreamEventType::kOpen:
          CHECK_EQ(e.length, sizeof(StreamOpenInfo));
          std::memcpy(&opened[e.stream_id], &b.data[e.data_offset], sizeof(StreamOpenInfo));
          break;
        case StreamEventType::kData:
          CHECK_EQ(e.offset, static_cast<uint64_t>(s.size()));
          s.append(reinterpret_cast<const char*>(&b.data[e.data_offset]), e.length);
          break;
        case StreamEventType::kGap:
          CHECK_EQ(e.offset, static_cast<uint64_t>(s.size()));
          s.append(e.length, e.detail == kGapQueueDrop ? '#' : '\0');
          if (e.detail == kGapQueueDrop) queue_gap_bytes += e.length;
          break;
        case StreamEventType::kClose:
          closed[e.stream_id] = e.detail;
          break;
      }
    }
  }
  void drain(StreamEventQueue& q) {
    StreamEventBatch b;
    while (q.take(b)) add(b);
  }
};


}  // namespace

TEST(stream_events_carry_endpoints_bytes_and_close_reason) {
  StreamEventOptions o;
  StreamEventQueue q(o);
  Feeder f{q};
  f.open_connection();
  f.send(true, 101, kAck, "hello ");
  f.send(true, 113, kAck, "again");  // early: buffered until the hole is filled
  f.send(true, 107, kAck, "world ");
  f.send(false, 901, kAck, "ok");
  f.send(true, 118, kFin | kAck, "");
  f.send(false, 903, kFin | kAck, "");
  q.finish();
  Rebuilt r;
  r.drain(q);
  CHECK_EQ(r.opened.size(), 1u);
  const StreamOpenInfo& open = r.opened.begin()->second;
  CHECK_EQ(open.port[0], 40000);
  CHECK_EQ(open.port[1], 80);
  CHECK_EQ(static_cast<int>(open.addr[0][3]), 1);
  CHECK_EQ(static_cast<int>(open.ip_version), 4);
  const uint64_t id = r.opened.begin()->first;
  CHECK_EQ(r.bytes[std::make_pair(id, 0)], std::string("hello world again"));
  CHECK_EQ(r.bytes[std::make_pair(id, 1)], std::string("ok"));
  CHECK_EQ(static_cast<int>(r.closed[id]), static_cast<int>(CloseReason::kFin));
  const StreamEventStats s = q.stats();
  CHECK_EQ(s.packets, 8u);
  CHECK_EQ(s.dropped_data_bytes, 0u);
  CHECK(s.events >= 6u);
}

// Live, traffic may stop after a few packets: the capture thread's dispatched() (at least every
// block timeout) lets a partial batch go once flush_ms old, with no packet to check the clock.
TEST(stream_events_a_partial_batch_goes_out_at_dispatch_without_more_packets) {
  StreamEventOptions o;
  o.flush_ms = 0;  // old enough at once: the test needs no clock
  StreamEventQueue q(o);
  Feeder f{q};
  f.open_connection();
  f.send(true, 101, kAck, "GET / HTTP/1.1\r\n\r\n");
  StreamEventBatch b;
  CHECK(!q.take(b));  // three packets: the clock is read every 64
  q.dispatched();
  Rebuilt r;
  r.drain(q);
  CHECK_EQ(r.opened.size(), 1u);
  CHECK_EQ(r.bytes[std::make_pair(r.opened.begin()->first, 0)], std::string("GET / HTTP/1.1\r\n\r\n"));
  q.dispatched();  // nothing new: no empty batch
  CHECK(!q.take(b));
}

TEST(stream_events_payload_as_text_shows_unprintable_bytes_as_dots) {
  StreamEventOptions o;
  o.payload_as_text = true;
  StreamEventQueue q(o);
  Feeder f{q};
  f.open_connection();
  std::string every;
  for (int b = 0; b < 256; ++b) every.push_back(static_cast<char>(b));
  f.send(true, 101, kAck, every);
  q.finish();
  Rebuilt r;
  r.drain(q);
  std::string shown;
  for (int b = 0; b < 256; ++b) shown.push_back((b >= 0x20 && b <= 0x7e) || b == '\n' || b == '\r' ? static_cast<char>(b) : '.');
  CHECK_EQ(r.bytes[std::make_pair(r.opened.begin()->first, 0)], shown);
}

TEST(stream_events_keep_each_direction_up_to_max_direction_bytes) {
  StreamEventOptions o;
  o.max_direction_bytes = 8;
  StreamEventQueue q(o);
  Feeder f{q};
  f.open_connection();
  f.send(true, 101, kAck, "hello ");
  f.send(true, 107, kAck, "world!");
  f.send(true, 113, kAck, "more");
  f.send(false, 901, kAck, "0123456789");
  q.finish();
  Rebuilt r;
  r.drain(q);
  const uint64_t id = r.opened.begin()->first;
  CHECK_EQ(r.bytes[std::make_pair(id, 0)], std::string("hello wo"));
  CHECK_EQ(r.bytes[std::make_pair(id, 1)], std::string("01234567"));
  CHECK_EQ(q.stats().truncated_bytes, 4u + 4u + 2u);
}

TEST(stream_events_live_overflow_becomes_counted_queue_drop_gaps) {
  StreamEventOptions o;
  o.batch_max_events = 4;
  o.queue_max_batches = 1;
  StreamEventQueue q(o);
  q.add_interface(raw_interface());
  Feeder f{q};
  f.send(true, 100, kSyn, "");
  std::string sent;
  uint32_t seq = 101;
  for (int i = 0; i < 200; ++i) {  // nobody takes: the queue fills after one batch
    const std::string chunk(100, static_cast<char>('a' + i % 26));
    f.send(true, seq, kAck, chunk);
    seq += 100;
    sent += chunk;
  }
  f.send(true, seq, kFin | kAck, "");
  q.finish();
  Rebuilt r;
  r.drain(q);
  const std::string& got = r.bytes[std::make_pair(1, 0)];
  CHECK_EQ(got.size(), sent.size());
  uint64_t hashes = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == '#') ++hashes;
    else if (got[i] != sent[i]) { CHECK(false); break; }
  }
  const StreamEventStats s = q.stats();
  CHECK(s.dropped_data_bytes > 0u);
  CHECK_EQ(hashes, s.dropped_data_bytes);
  CHECK_EQ(r.queue_gap_bytes, s.dropped_data_bytes);
  CHECK_EQ(s.dropped_events, 0u);  // consecutive drops of one direction coalesce into one gap
  CHECK_EQ(static_cast<int>(r.closed[1]), static_cast<int>(CloseReason::kFin));
}

TEST(stream_events_reading_a_file_waits_for_room_and_loses_nothing) {
  StreamEventOptions o;
  o.batch_max_events = 4;
  o.queue_max_batches = 1;
  o.wait_for_room = true;
  StreamEventQueue q(o);
  q.add_interface(raw_interface());
  std::atomic<bool> done{false};
  Rebuilt r;
  std::thread taker([&] {
    StreamEventBatch b;
    for (;;) {
      const bool finished = done.load();  // read before taking: nothing can arrive after it
      if (q.take(b)) r.add(b);
      else if (finished) break;
      else std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  Feeder f{q};
  f.send(true, 100, kSyn, "");
  std::string sent;
  uint32_t seq = 101;
  for (int i = 0; i < 300; ++i) {
    const std::string chunk(50, static_cast<char>('A' + i % 26));
    f.send(true, seq, kAck, chunk);
    seq += 50;
    sent += chunk;
  }
  q.finish();
  done = true;
  taker.join();
  CHECK(r.bytes[std::make_pair(1, 0)] == sent);
  CHECK_EQ(q.stats().dropped_data_bytes, 0u);
  CHECK_EQ(r.queue_gap_bytes, 0u);
}

TEST(stream_events_abandon_releases_a_waiting_producer) {
  StreamEventOptions o;
  o.batch_max_events = 2;
  o.queue_max_batches = 1;
  o.wait_for_room = true;
  StreamEventQueue q(o);
  q.add_interface(raw_interface());
  std::atomic<bool> fed{false};
  std::thread producer([&] {
    Feeder f{q};
    f.send(true, 100, kSyn, "");
    for (uint32_t i = 0; i < 50; ++i) f.send(true, 101 + i * 10, kAck, "0123456789");
    fed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(!fed.load());  // blocked: nobody takes
  q.abandon();
  producer.join();
  CHECK(fed.load());
}
