// `podspan streams`: decodes each packet, reassembles TCP and writes one file per stream
// direction (tcpflow's naming, gaps as zeros so file offsets equal stream offsets) plus
// index.jsonl with one JSON object per stream direction. Runs on the capture thread.
#pragma once

#include <cstdint>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pcap/async_files.h"
#include "decode/defrag.h"
#include "reassembly/flow_table.h"
#include "common/packet.h"
#include "reassembly/reassembly.h"
#include "reassembly/tcp_pipeline.h"

namespace podspan {

struct StreamFilesOptions {
  std::string dir;
  ReassemblyConfig reassembly;
  DefragConfig defrag;
  // Beyond this many open files the least recently opened one is closed (reopened on demand).
  // 0: half the process's open-file limit, at most 8192.
  size_t max_open_files = 0;
  // Payload is gathered per stream direction and written in pieces of up to this size, so
  // thousands of concurrent streams cost one write (and at most one open) per piece, not per
  // segment; all directions together hold at most write_buffer_total (oldest flushed first),
  // counted as what the pieces hold (their blocks and lent bytes), not their payload alone.
  // Pieces are written on a writer thread, with at most write_in_flight bytes handed over.
  // Payload lent from a mapped input costs no memory while it waits, so more may be in flight
  // (write_in_flight_lent): with two writers and 32 MiB, the reader blocked on one writer's full
  // queue while the other ran dry. The reader keeps 256 MiB of the mapping behind it, more than
  // write_buffer_total + write_in_flight_lent, so lent payload is still mapped when written.
  size_t write_buffer_per_file = 64u << 10;
  size_t write_buffer_total = 64u << 20;
  size_t write_in_flight = 32u << 20;
  size_t write_in_flight_lent = 96u << 20;
  // Writer threads, each owning the files hashed to it (the kernel's side of writing is most of
  // the work once payload is lent from a mapped input). 0: reading a file, one per CPU (at
  // most 4); live, one.
  size_t writer_threads = 0;
  // tcpflow's -b: each direction's file holds at most its stream's first max_direction_bytes
  // (0: all); what lies beyond is counted in its index line (truncated_bytes), not written.
  uint64_t max_direction_bytes = 0;
};

struct StreamFilesStats : TcpPipelineStats {
  uint64_t files = 0;
  uint64_t unwritten_files = 0, unwritten_bytes = 0;  // given up by abandon(): index says which
  uint64_t truncated_bytes = 0;  // payload beyond max_direction_bytes, not written
};

class StreamFiles : public PacketConsumer, private StreamSink {
 public:
  // Creates the directory if needed and opens DIR/index.jsonl; throws CaptureError(kOutput).
  explicit StreamFiles(StreamFilesOptions options);
  ~StreamFiles() override;

  void add_interface(const InterfaceInfo& info) override;
  // Live capture hands over a batch at least every block timeout: the counters a progress line
  // reads are published then too, not only every 4096 packets (a quiet interface would show 0).
  void dispatched() override;
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  void input_is_stable(const uint8_t* begin, size_t len) override;
  void finish() override;

  StreamFilesStats stats() const;  // safe from another thread (refreshed every 4096 packets)
  // Any thread (a second signal, a drain deadline): what is still queued for the writers is not
  // written; files are closed as they are and the index marks each entry that lacks something
  // ("written": false, with "unwritten_bytes"), so it never claims bytes a file does not hold.
  // finish() then returns once the writers have let go of their queues.
  void abandon();

 private:
  struct Side {
    std::string file;  // relative to dir; empty until the direction carries a byte or a gap
    Piece pending;  // payload not yet written, at file offset pending_offset
    uint64_t pending_offset = 0;
    bool queued = false;  // listed in pending_order_
    uint64_t bytes = 0, gaps = 0, missing = 0, length = 0, truncated = 0;
    uint64_t first_ts = 0, last_ts = 0;
  };
  struct Stream {
    StreamInfo info;  // info.id 0: no stream open in this slot
    Side side[2];
  };
  // A closed stream's index lines wait until the writers have closed its files, so that each
  // line can say whether its file got everything (see abandon()).
  struct Closed {
    Stream stream;
    CloseReason reason;
    uint64_t ticket[2];  // the close of each direction's file (0: no file)
  };
  // A direction holding payload, by age; its stream may have closed since (id no longer matches).
  struct PendingRef {
    uint64_t id;
    uint32_t slot;
    int dir;
  };

  void prefetch(uint32_t slot) const override {
    if (slot >= streams_.size()) return;
    const auto* p = reinterpret_cast<const char*>(&streams_[slot]);
    for (size_t at = 0; at < sizeof(Stream); at += 64) __builtin_prefetch(p + at);
  }
  void on_open(const StreamInfo& info) override;
  void on_data(const StreamInfo& info, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) override;
  void on_gap(const StreamInfo& info, int dir, uint64_t offset, uint64_t len) override;
  void on_close(const StreamInfo& info, CloseReason reason, uint64_t ts) override;

  void create(const StreamInfo& info, int dir, Side& side);
  void flush(uint64_t id, int dir, Side& side);
  void flush_oldest_until(size_t limit);
  std::string name_for(const StreamInfo& info, int dir);
  void write_index(const Closed& c);
  void write_confirmed_index(bool all);  // the lines whose files are closed (all: every line)
  void publish_stats();
  [[noreturn]] void fail(const std::string& what, const std::string& path, int err);

  StreamFilesOptions opt_;
  TcpPipeline pipeline_;
  std::vector<Stream> streams_;  // by the reassembler's slot (dense), not by id: no map lookup per packet
  size_t open_streams_ = 0;
  // Names given so far (for tcpflow's c1, c2… on a reused 4-tuple), by a 64-bit hash of the name:
  // ~28 bytes per stream direction of the whole run instead of ~140 for the names themselves.
  // Two names with one hash (~1e-7 for millions) would only give the second a needless suffix.
  FlowTable<uint64_t, uint32_t> name_uses_;
  void start_writers(size_t lanes, size_t in_flight);
  size_t max_open_ = 0;
  std::mutex writers_mu_;  // writers_ is replaced by input_is_stable() while abandon() may run
  std::atomic<bool> abandoned_{false};
  std::vector<std::unique_ptr<AsyncFiles>> writers_;
  std::deque<Closed> unconfirmed_;  // oldest first
  // A stream direction's file, as the writers know it.
  static uint64_t file_key(uint64_t stream_id, int dir) { return stream_id * 2 + static_cast<uint64_t>(dir); }
  AsyncFiles& writer_for(uint64_t key) {
    return *writers_[writers_.size() == 1 ? 0 : ((key * 0x9e3779b97f4a7c15ull) >> 32) % writers_.size()];
  }
  size_t pending_total_ = 0;
  // Input that stays in place until finish() (a file read by mapping): payload lying there is
  // written from there, not copied.
  StableInput stable_;
  std::deque<PendingRef> pending_order_;  // directions holding payload, oldest first
  int index_fd_ = -1;
  std::string index_buf_;
  uint64_t files_ = 0, packets_ = 0, unwritten_files_ = 0, unwritten_bytes_ = 0, truncated_bytes_ = 0;
  StreamFilesStats stats_;
  mutable std::mutex snap_mu_;
  StreamFilesStats snapshot_;
  uint64_t published_packets_ = 0;  // packets_ at the last publish_stats()
  bool finished_ = false;
};

}  // namespace podspan
