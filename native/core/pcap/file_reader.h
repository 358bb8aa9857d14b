// Reader for pcap and pcapng capture files, ours rather than libpcap's: libpcap 1.10 refuses
// pcapng files whose interfaces differ in link type or whose sections change byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/packet.h"

namespace podspan {

enum class ReadStatus { kOk, kEnd, kError };

class FileReader {
 public:
  enum class Format { kPcap, kPcapng };

  virtual ~FileReader() = default;

  // Opens a file; throws CaptureError(kInputFile) naming the path when it cannot be read or
  // does not start with a pcap/pcapng header, (kCorruptFile) when the header is invalid.
  static std::unique_ptr<FileReader> open(const std::string& path);
  // A file of a chain: opened by the caller, or opened by `open_later` when its turn comes (a
  // FIFO a decompressor writes: opening it is what lets its writer start, so a long list does
  // not run every decompressor at once). open_later throws CaptureError as open() does.
  struct ChainPart {
    std::unique_ptr<FileReader> reader;
    std::function<std::unique_ptr<FileReader>()> open_later;
  };
  // Several files read in turn as one input (tcpdump -V): each file's interfaces and sections
  // numbered on after the earlier files' (as a pcapng's sections are), its packets' iface with
  // them; a file's end is not the input's. contents() is none (no one mapping holds the
  // packets), format() and nanosecond() are the first file's, which must be opened already. A
  // file done with is closed at the next read(); one opened late that cannot be read ends the
  // input with kError naming it, after the earlier files' packets. `parts` must not be empty.
  static std::unique_ptr<FileReader> chain(std::vector<ChainPart> parts);
  static std::unique_ptr<FileReader> chain(std::vector<std::unique_ptr<FileReader>> parts);
  // Reads from memory (tests, fuzzing). `name` is used in messages. The bytes must outlive
  // the reader.
  static std::unique_ptr<FileReader> from_memory(const uint8_t* data, size_t len,
                                                 const std::string& name);
  // The same bytes read as a stream (as from a pipe), `chunk` bytes per read: tests and fuzzing
  // of the windowed reading.
  static std::unique_ptr<FileReader> from_memory_streamed(const uint8_t* data, size_t len, size_t chunk,
                                                          const std::string& name);

  virtual Format format() const = 0;
  // pcap only: true when the file holds nanosecond timestamps.
  virtual bool nanosecond() const = 0;
  // Interfaces seen so far. pcap: exactly one. pcapng: grows as IDBs are read; the IDBs of
  // every section are numbered globally in file order (PacketRecord::iface indexes this).
  virtual const std::vector<InterfaceInfo>& interfaces() const = 0;
  // Sections seen so far (pcapng SHB options; pcap: one empty section).
  virtual const std::vector<SectionInfo>& sections() const = 0;

  // Clears `out`, then appends up to max_packets packets (stopping early once out.used
  // reaches max_bytes). kOk: packets were read and more may follow. kEnd: end of file
  // (out may still hold the last packets). kError: the file is damaged at some point; out
  // holds the good packets before it and error() says what and where (byte offset).
  virtual ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) = 0;
  // The whole file's bytes, in place for the reader's life (a mapping, or read whole from a
  // pipe): packets lent by read() (Batch::may_borrow) lie inside.
  virtual const uint8_t* contents() const = 0;
  virtual size_t contents_size() const = 0;
  virtual const std::string& error() const = 0;

  // Blocks skipped because we do not use them (NRB, DSB, custom, unknown types).
  virtual uint64_t skipped_blocks() const = 0;

  // A mapped file: unmaps the pages more than `behind` bytes behind what read() has gone past,
  // and maps in (fills the page tables of) the `ahead` bytes after it. Safe from any thread
  // while read() runs on its own: a consumer with time to spare calls it, so tearing the
  // mapping down (~8 ms per 150 MB) does not all fall to the session's end, on one thread,
  // after the work, and the reader's thread takes no page faults (a tenth of its time in
  // analytics). A page released too soon is read again from the page cache.
  virtual void tend_mapping(size_t behind, size_t ahead) {}
};

}  // namespace podspan
