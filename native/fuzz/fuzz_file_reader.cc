// libFuzzer target for FileReader alone: any bytes through from_memory, every batch read
// until kEnd / kError, every byte a record claims touched (so ASan sees any overrun), and the
// reader's promises checked: records inside Batch::used, interface indexes valid, options
// well-formed host-order TLVs, errors naming the input, a failed reader staying failed.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.h"
#include "pcap/file_reader.h"

namespace {

// Options as the reader hands them out: code, length (host order), value, zero padding to 4.
bool well_formed_options(const uint8_t* p, size_t n) {
  size_t off = 0;
  while (off < n) {
    if (n - off < 4) return false;
    uint16_t code, len;
    std::memcpy(&code, p + off, 2);
    std::memcpy(&len, p + off + 2, 2);
    if (code == 0) return false;  // opt_endofopt is never kept
    const size_t padded = (static_cast<size_t>(len) + 3) & ~size_t{3};
    if (padded > n - off - 4) return false;
    off += 4 + padded;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  static const std::string kName = "fuzz.pcap";
  std::unique_ptr<FileReader> reader;
  try {
    reader = FileReader::from_memory(data, size, kName);
  } catch (const CaptureError& e) {
    if (std::strncmp(e.what(), "fuzz.pcap: ", 11) != 0) __builtin_trap();
    return 0;
  }
  for (const InterfaceInfo& i : reader->interfaces()) {
    if (!well_formed_options(i.extra_options.data(), i.extra_options.size())) __builtin_trap();
  }

  // Vary the batch limits with the input so batch boundaries fall everywhere.
  const size_t max_packets = 1 + size % 5;
  const size_t max_bytes = size % 3 == 0 ? 64 : 1 << 20;
  Batch batch;
  batch.may_borrow = size % 2 == 1;  // both ways: packets copied into the batch, or lent in place
  volatile uint8_t sink = 0;
  size_t packets = 0;
  ReadStatus st = ReadStatus::kOk;
  // Every kOk read consumes at least one block or record, so this ends; the bound is a guard.
  for (size_t rounds = 0; rounds <= size + 1; ++rounds) {
    st = reader->read(batch, max_packets, max_bytes);
    if (batch.size() > max_packets || (!batch.borrowed && batch.used > batch.data.size())) __builtin_trap();
    if (st == ReadStatus::kOk && batch.empty()) __builtin_trap();
    const size_t ifaces = reader->interfaces().size();
    for (const PacketRecord& r : batch.records) {
      const uint8_t* p = batch.bytes(r);
      if (r.iface >= ifaces || r.caplen > size) __builtin_trap();
      if (batch.borrowed) {
        if (p < data || p + r.caplen + r.optlen > data + size) __builtin_trap();  // lent from the input only
      } else if (static_cast<size_t>(r.offset) + r.caplen + r.optlen > batch.used) {
        __builtin_trap();
      }
      for (uint32_t i = 0; i < r.caplen + r.optlen; ++i) sink = static_cast<uint8_t>(sink ^ p[i]);
      if (!well_formed_options(p + r.caplen, r.optlen)) __builtin_trap();
    }
    packets += batch.size();
    if (st != ReadStatus::kOk) break;
  }
  if (st == ReadStatus::kOk) __builtin_trap();  // never reached the end
  for (const InterfaceInfo& i : reader->interfaces()) {
    if (!well_formed_options(i.extra_options.data(), i.extra_options.size())) __builtin_trap();
  }
  if (st == ReadStatus::kError) {
    if (reader->error().compare(0, kName.size() + 2, kName + ": ") != 0) __builtin_trap();
    // A failed reader stays failed and returns nothing more.
    if (reader->read(batch, 8, 1 << 20) != ReadStatus::kError || !batch.empty()) __builtin_trap();
  } else {
    if (!reader->error().empty()) __builtin_trap();
    if (reader->read(batch, 8, 1 << 20) != ReadStatus::kEnd || !batch.empty()) __builtin_trap();
  }
  // A readable input twice in a chain (tcpdump -V): twice its packets, the second time's
  // interfaces numbered after the first's, and the same end.
  if (size % 4 == 1 && st == ReadStatus::kEnd) {
    // The second reading opened when its turn comes, as a decompressor's FIFO is.
    std::vector<FileReader::ChainPart> parts(2);
    parts[0].reader = FileReader::from_memory(data, size, kName);
    parts[1].open_later = [data, size] { return FileReader::from_memory(data, size, kName); };
    auto chain = FileReader::chain(std::move(parts));
    const size_t once = reader->interfaces().size();
    Batch b;
    b.may_borrow = true;
    size_t n = 0, second = 0;
    ReadStatus s2 = ReadStatus::kOk;
    for (size_t rounds = 0; rounds <= 2 * size + 2 && s2 == ReadStatus::kOk; ++rounds) {
      s2 = chain->read(b, max_packets, max_bytes);
      for (const PacketRecord& r : b.records) {
        if (r.iface >= chain->interfaces().size()) __builtin_trap();
        if (n >= packets && r.iface < once) __builtin_trap();  // the second reading's packets
        second += n >= packets ? 1 : 0;
        ++n;
      }
    }
    if (s2 != ReadStatus::kEnd || n != 2 * packets || second != packets || chain->interfaces().size() != 2 * once) __builtin_trap();
  }
  // The same bytes as a stream (a pipe), in odd read sizes: the window must give the very same
  // packets, end and message.
  if (size % 4 == 3) {
    std::unique_ptr<FileReader> streamed;
    try {
      streamed = FileReader::from_memory_streamed(data, size, 1 + size % 97, kName);
    } catch (const CaptureError&) {
      __builtin_trap();  // opened from memory, so it opens as a stream too
    }
    Batch b;
    size_t n = 0;
    ReadStatus s2 = ReadStatus::kOk;
    for (size_t rounds = 0; rounds <= size + 1 && s2 == ReadStatus::kOk; ++rounds) {
      s2 = streamed->read(b, max_packets, max_bytes);
      for (const PacketRecord& r : b.records) {
        const uint8_t* p = b.bytes(r);
        for (uint32_t i = 0; i < r.caplen + r.optlen; ++i) sink = static_cast<uint8_t>(sink ^ p[i]);
      }
      n += b.size();
    }
    // One difference by design: a block claiming more than 64 MiB is refused on a stream
    // before its end is known (read whole, the file may simply end first).
    const bool refused = streamed->error().find("more than podspan buffers from a stream") != std::string::npos;
    if (s2 != st || n != packets || (streamed->error() != reader->error() && !refused)) __builtin_trap();
  }
  return 0;
}
