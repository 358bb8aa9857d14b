// A capture session: live interfaces (each on its own thread, libpcap TPACKET_V3) or one
// capture file, feeding native sinks (the file writer) directly and handing batches to a
// bounded queue for JavaScript. Nothing here runs on the Node event loop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "pcap/file_writer.h"
#include "common/packet.h"

struct pcap_pkthdr;  // libpcap

namespace podspan {

struct CaptureOptions {
  std::vector<std::string> interfaces;  // live devices; exclusive with read_path
  std::string read_path;                // a pcap/pcapng file to read instead
  std::vector<std::string> more_read_paths;  // read after read_path, in order, as one input (tcpdump -V)
  std::string filter;                   // BPF expression compiled by libpcap ("" = all)
  // Live: `filter` without its flow sampling. Packets it accepts that `filter` rejects are
  // counted as sampled_out (InterfaceStats), in the kernel's program, not captured.
  std::string sampled_filter;
  int snaplen = 262144;
  // Live: replaces the interfaces' description in pcapng IDBs (the agent: node, pod, labels).
  std::string interface_description;
  bool promisc = true;
  bool immediate = false;               // TPACKET_V2 per-packet wakeups: costly, low latency
  int buffer_kib = 0;                   // kernel ring size; 0 = libpcap's default (2 MiB)
  int timeout_ms = 100;                 // V3 block timeout: bounds latency when traffic is low
  uint64_t count = 0;                   // stop after this many packets (0: no limit)
  std::string direction;                // live: "in", "out" or "inout" (pcap_setdirection); "" = libpcap's default
  bool any_cooked_v2 = false;           // live "any": DLT_LINUX_SLL2 (interface index and direction), as tcpdump
  int link_type = -1;                   // live: this DLT instead of the device's first (tcpdump -y); -1: none asked
  int timestamp_type = -1;              // live: this PCAP_TSTAMP_* type (tcpdump -j); -1: libpcap's default
  bool flush_per_block = false;         // live: hand the file writer's bytes over after every ring block (pipes)
  bool flush_per_packet = false;        // hand them over after every packet (tcpdump -U)

  bool write_file = false;
  WriterOptions writer;

  // Native sinks fed on the capture thread (stream reassembly, VXLAN forwarding), in order.
  std::vector<std::shared_ptr<PacketConsumer>> consumers;

  bool deliver_batches = false;         // hand batches to JS through take_batch()
  size_t batch_max_packets = 4096;
  size_t batch_max_bytes = 1 << 20;
  uint32_t batch_flush_ms = 100;        // a partial batch is handed over after this long
  size_t queue_max_batches = 16;        // bounded: live capture drops (counted) when full
  // Storage of batches taken and lent out (take_batch's caller moves Batch::data away), back for
  // the capture's next batches; none: a batch without storage grows its own.
  std::shared_ptr<BatchStoragePool> batch_storage;
};

class CaptureSession {
 public:
  // Opens every source, compiles the filter and opens the output; throws CaptureError naming
  // the interface, filter or file at fault.
  explicit CaptureSession(CaptureOptions options);
  ~CaptureSession();

  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // libpcap warnings from activation, verbatim, prefixed by the interface name.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Starts the capture threads. on_batch: a batch is ready (called on a capture thread).
  // on_finished: every thread has ended and outputs are closed (called on the last one).
  void start(std::function<void()> on_batch, std::function<void()> on_finished);
  // Asks every thread to stop; returns at once. Safe from any thread, any number of times. A
  // file's reader waiting for room in the queue gives up its batch (counted in dropped_queue).
  void stop();
  // Waits for the threads (call after on_finished or stop()).
  void join();

  // Moves the oldest ready batch into `out` (whose storage is recycled). False if none.
  // Reading a file waits for room in the queue (nothing is dropped); live capture drops and
  // counts a batch that does not fit.
  bool take_batch(Batch& out);

  // A mapped file: what its reader went past more than `behind` bytes ago is unmapped now, and
  // the next `ahead` bytes mapped in, by the calling thread (FileReader::tend_mapping). Anything
  // else: nothing.
  void tend_read_input(size_t behind, size_t ahead);

  bool live() const { return !reader_based_; }
  // Live: the devices. A file: the interfaces read so far, and before start() those its reader
  // saw at open (pcap: its one; pcapng: those right after its first section header).
  std::vector<InterfaceInfo> interfaces() const;
  std::vector<InterfaceStats> stats() const;
  uint64_t packets_read() const { return packets_read_.load(); }  // offline: before filter
  bool finished() const { return finished_.load(); }
  // First fatal error of a capture thread or of closing the output ("" if none).
  std::string error() const;
  ErrorKind error_kind() const;
  std::vector<std::string> files() const;
  std::vector<std::string> take_rotated_files();  // see CaptureWriter::take_rotated_files

 private:
  struct Source;

  static void on_packet(unsigned char* user, const ::pcap_pkthdr* h, const unsigned char* bytes);
  void deliver(Source& s, const uint8_t* bytes, uint32_t caplen, uint32_t origlen,
               uint64_t ts_ns, uint32_t iface, const uint8_t* opts, uint32_t optlen);
  bool take_count_slot();
  void open_live(const std::string& device);
  void set_live_filter(Source& src, const std::string& device);
  void open_offline();
  void live_loop(Source& s);
  void drain_ring(Source& s, int wait_ms);
  void offline_loop(Source& s);
  // Ends the capture from inside (count reached, error): unlike stop(), a file still waits for room.
  void end_capture();
  void after_dispatch(Source& s, bool final, bool idle = false);
  void push_js_batch(Source& s, bool wait_for_room);
  void refresh_stats(Source& s);
  void set_error(ErrorKind kind, const std::string& message);
  void sync_sink_interfaces(const std::vector<InterfaceInfo>& ifs);
  void to_sinks(const PacketRecord& rec, const uint8_t* bytes);
  void thread_done();

  CaptureOptions opt_;
  bool reader_based_ = false;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::string> warnings_;
  std::unique_ptr<CaptureWriter> writer_;
  std::vector<std::shared_ptr<PacketConsumer>> consumers_;
  size_t consumer_interfaces_ = 0;
  std::mutex writer_mu_;        // guards writer_ and consumers_ when several threads share them
  bool shared_writer_ = false;  // several threads feed the sinks: stage, then hand over per batch

  mutable std::mutex state_mu_;  // guards interfaces_, stats snapshots, error
  std::vector<InterfaceInfo> interfaces_;
  std::vector<InterfaceStats> stats_snapshot_;
  std::string error_;
  ErrorKind error_kind_ = ErrorKind::kInternal;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Batch> ready_;
  std::vector<Batch> spare_;

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};  // stop() from outside, not the count or an error
  std::atomic<bool> finished_{false};
  std::atomic<bool> started_{false};  // start() was called: a file's reader is its thread's
  std::atomic<bool> abandoned_{false};  // the session is being destroyed
  std::atomic<int> running_{0};
  std::atomic<uint64_t> taken_{0};
  std::atomic<uint64_t> packets_read_{0};
  std::function<void()> on_batch_, on_finished_;
};

}  // namespace podspan
