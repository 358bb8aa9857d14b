// Stream events for JavaScript: the TCP pipeline's open/data/gap/close events packed into
// batches (a table of fixed 40-byte records plus one buffer of payload and endpoint bytes),
// handed over through a bounded queue. Reading a file waits for room; live capture never
// blocks: while the queue is full, payload is replaced by gap events marked as queue drops
// (coalesced per stream direction), so the consumer sees every lost byte as an explicit gap.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "decode/defrag.h"
#include "common/packet.h"
#include "reassembly/reassembly.h"
#include "reassembly/tcp_pipeline.h"

namespace podspan {

enum class StreamEventType : uint8_t { kOpen = 0, kData = 1, kGap = 2, kClose = 3 };

constexpr uint8_t kGapQueueDrop = 1;  // StreamEventRecord::detail of a gap: the bytes were captured but dropped here

// For kOpen: data holds a StreamOpenInfo at data_offset. kData: length bytes at data_offset.
// kGap: length missing bytes at offset; detail is 0 (lost before us) or kGapQueueDrop.
// kClose: detail is the CloseReason.
struct StreamEventRecord {
  uint64_t stream_id;
  uint64_t offset;   // stream offset of the direction (data, gap)
  uint64_t length;   // bytes (data, gap)
  uint64_t ts_ns;
  uint32_t data_offset;
  uint8_t type;      // StreamEventType
  uint8_t dir;       // 0: bytes sent by side 0 of the open event; 1: by side 1
  uint8_t detail;
  uint8_t pad;
};
static_assert(sizeof(StreamEventRecord) == 40, "the JS side reads 40-byte records");

struct StreamOpenInfo {
  uint8_t addr[2][16];  // IPv4 in the first 4 bytes
  uint16_t port[2];
  uint16_t vlan;
  uint8_t ip_version;
  uint8_t pad;
};
static_assert(sizeof(StreamOpenInfo) == 40, "the JS side reads 40-byte open blocks");

struct StreamEventBatch {
  std::vector<StreamEventRecord> events;
  std::vector<uint8_t> data;
  void clear() {
    events.clear();
    data.clear();
  }
};

struct StreamEventOptions {
  ReassemblyConfig reassembly;
  DefragConfig defrag;
  bool wait_for_room = false;      // reading a file: block instead of dropping
  size_t batch_max_bytes = 1 << 20;
  size_t batch_max_events = 8192;
  size_t queue_max_batches = 16;
  // Payload as a console shows it (tcpflow -c): bytes outside printable ASCII, CR and LF become
  // '.', here on the capture thread, where the bytes are in cache, not per byte in JavaScript.
  bool payload_as_text = false;
  // tcpflow's -b: each direction's stream up to its first max_direction_bytes (0: all); the
  // rest is counted (truncated_bytes), not handed over.
  uint64_t max_direction_bytes = 0;
  uint32_t flush_ms = 100;         // a partial batch goes out once this old (checked every 64 packets and at each dispatch)
};

struct StreamEventStats : TcpPipelineStats {
  uint64_t batches = 0;
  uint64_t events = 0;
  uint64_t dropped_data_bytes = 0;  // payload turned into queue-drop gaps
  uint64_t dropped_events = 0;      // events lost outright (the overflow batch was full too)
  uint64_t truncated_bytes = 0;     // payload beyond max_direction_bytes
};

class StreamEventQueue : public PacketConsumer, private StreamSink {
 public:
  explicit StreamEventQueue(StreamEventOptions options);

  // Called (on the capture thread) whenever a batch becomes ready.
  void set_on_ready(std::function<void()> on_ready) { on_ready_ = std::move(on_ready); }

  void add_interface(const InterfaceInfo& info) override { pipeline_.add_interface(info.linktype); }
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  // After each batch the capture thread handed over (live: at least every block timeout): a
  // partial batch goes out once flush_ms old, when no more packets come to check the clock.
  void dispatched() override { maybe_push(false); }
  void finish() override;

  // Moves the oldest ready batch into `out`. False if none. Any thread.
  bool take(StreamEventBatch& out);
  // The consumer is gone: stop waiting for room and discard from now on.
  void abandon();
  StreamEventStats stats() const;

 private:
  void on_open(const StreamInfo& info) override;
  void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) override;
  void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) override;
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) override;

  void append_gap(uint64_t id, int dir, uint64_t offset, uint64_t len, uint8_t detail, uint64_t ts);
  StreamEventRecord* append(StreamEventType type, uint64_t id, int dir, uint64_t ts);
  void maybe_push(bool force);
  void publish_stats();

  StreamEventOptions opt_;
  TcpPipeline pipeline_;
  StreamEventBatch current_;
  uint64_t current_started_ms_ = 0;
  uint64_t ts_ = 0;  // capture time of the packet being processed
  bool overflow_ = false;  // the queue was full at the last push: payload becomes gaps
  uint64_t packets_ = 0;
  StreamEventStats counters_;
  std::function<void()> on_ready_;

  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<StreamEventBatch> ready_;
  std::vector<StreamEventBatch> spare_;
  bool abandoned_ = false;
  StreamEventStats snapshot_;
};

}  // namespace podspan
