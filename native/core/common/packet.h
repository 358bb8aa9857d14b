// Shared data model of the native core: packets travel in batches (one contiguous data
// buffer plus a fixed-size record per packet), never one at a time.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace podspan {

// Link-layer header types we name in code (values from the tcpdump.org registry).
enum : uint16_t {
  kLinktypeNull = 0,
  kLinktypeEthernet = 1,
  kLinktypeRaw = 101,
  kLinktypeLinuxSll = 113,
  kLinktypeIpv4 = 228,
  kLinktypeIpv6 = 229,
  kLinktypeLinuxSll2 = 276,
};

// Describes one capture interface: a live device, or an IDB / the global header of a file.
struct InterfaceInfo {
  std::string name;         // if_name (live: device name)
  std::string description;  // if_description
  uint16_t linktype = kLinktypeEthernet;
  uint32_t snaplen = 262144;
  // Further pcapng IDB options kept verbatim (TLV, host byte order for code/length,
  // option values as in the source), excluding if_name, if_description, if_tsresol,
  // if_tsoffset and opt_endofopt, which the writer emits itself.
  std::vector<uint8_t> extra_options;
};

// Per-packet entry of a batch. 32 bytes; JS reads the table through typed-array views.
struct PacketRecord {
  uint64_t ts_ns = 0;    // capture time, nanoseconds since the Unix epoch
  uint32_t offset = 0;   // start of the packet bytes in Batch::data
  uint32_t caplen = 0;   // bytes present in data
  uint32_t origlen = 0;  // length on the wire
  uint32_t iface = 0;    // index into the source's interface list
  uint32_t optlen = 0;   // pcapng packet options (TLV, host order) following the packet bytes
  uint32_t flags = 0;    // reserved (zero)
};
static_assert(sizeof(PacketRecord) == 32, "PacketRecord layout is shared with JS");

// A batch owns its storage and is reused: clear() keeps capacity, so steady state allocates nothing.
struct Batch {
  std::vector<uint8_t> data;
  std::vector<PacketRecord> records;
  size_t used = 0;  // bytes of data in use
  // A reader may hand out packets where they lie (a memory-mapped file) instead of copying them
  // into data, when the batch allows it: then offsets count from `borrowed`, which stays valid
  // until the reader's next read.
  bool may_borrow = false;
  const uint8_t* borrowed = nullptr;

  void clear() { records.clear(); used = 0; borrowed = nullptr; }
  const uint8_t* bytes(const PacketRecord& r) const { return (borrowed ? borrowed : data.data()) + r.offset; }
  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }

  // Appends one packet (and optional pcapng options) and returns its record.
  PacketRecord& append(const uint8_t* bytes, uint32_t caplen, uint32_t origlen, uint64_t ts_ns,
                       uint32_t iface, const uint8_t* opts = nullptr, uint32_t optlen = 0);
};

// Storage of batches whose bytes were lent out (the agent sends its frames from the capture batch
// itself) and came back: a capture fills its next batches with it instead of growing new storage
// (zeroed pages, page faults, the copies of growing). Thread-safe: given back on one thread,
// taken on the capture's.
class BatchStoragePool {
 public:
  explicit BatchStoragePool(size_t max_kept) : max_kept_(max_kept) {}
  // Keeps `data` (its capacity) for a later batch, up to max_kept; beyond that it is freed.
  void put(std::vector<uint8_t>&& data);
  // Moves a kept storage into `data` when there is one and data has none.
  void refill(std::vector<uint8_t>& data);

 private:
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> kept_;
  size_t max_kept_;
};

// Counters of one interface (live: pcap_stats plus ours; offline: ours).
struct InterfaceStats {
  uint64_t received = 0;         // pcap_stats ps_recv: packets that passed the filter
  uint64_t dropped_kernel = 0;   // ps_drop: no room in the kernel buffer
  uint64_t dropped_iface = 0;    // ps_ifdrop: dropped by the interface / driver
  uint64_t captured = 0;         // delivered to our sinks
  uint64_t captured_bytes = 0;   // caplen bytes delivered
  uint64_t dropped_queue = 0;    // batches for JS that did not fit the bounded queue (packets)
  uint64_t sampled_out = 0;      // live, with a sampled filter: accepted by the rules, not sampled
};

// Memory that stays in place until the end of a capture (a file read by mapping): what lies
// inside may be kept by pointer instead of copied. Empty until set.
struct StableInput {
  const uint8_t* begin = nullptr;
  const uint8_t* end = nullptr;
  void set(const uint8_t* b, size_t len) {
    begin = b;
    end = b ? b + len : nullptr;
  }
  bool holds(const uint8_t* p, size_t n) const { return begin != nullptr && p >= begin && p + n <= end; }
};

// A native sink fed on the capture thread, like the file writer (e.g. stream reassembly).
// Calls are serialised by the session; add_interface comes before the first packet of it.
class PacketConsumer {
 public:
  virtual ~PacketConsumer() = default;
  virtual void add_interface(const InterfaceInfo& info) = 0;
  virtual void consume(const PacketRecord& rec, const uint8_t* bytes) = 0;
  // After each batch the capture thread handed over (live: at least every block timeout), so
  // a consumer that gathers work (a send batch) can let it go without waiting for more.
  virtual void dispatched() {}
  // Reading a file: every packet handed to consume() lies in [begin, begin + len), which stays
  // valid until finish() returns, so a consumer may keep pointers into it instead of copies.
  virtual void input_is_stable(const uint8_t* begin, size_t len) {}
  virtual void finish() = 0;  // end of capture: flush and close; may throw CaptureError
};

// Section-level metadata of a capture file (pcapng SHB), kept on conversion.
struct SectionInfo {
  std::vector<std::string> comments;
  std::string hardware, os, userappl;
};

}  // namespace podspan
