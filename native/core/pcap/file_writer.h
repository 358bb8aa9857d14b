// pcap / pcapng writer with tcpdump- and dumpcap-style rotation. Records are appended to one
// large buffer and written with one syscall per buffer, not per packet (see libpcap #792).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/packet.h"

namespace podspan {

enum class FileFormat { kPcap, kPcapNs, kPcapng };

struct RotationPolicy {
  uint64_t max_bytes = 0;   // -C: start a new file once this many bytes are written (0: off)
  uint32_t seconds = 0;     // -G: start a new file when a packet is this much newer than the
                            //     file's first packet (0: off)
  uint32_t max_files = 0;   // -W: keep only the newest N files, deleting older ones (0: all)
  // -G counts the writer's own clock, not packet times (a collector must not let senders'
  // timestamps decide how many files it opens).
  bool seconds_by_wall_clock = false;
  bool enabled() const { return max_bytes != 0 || seconds != 0; }
};

struct WriterOptions {
  std::string path;                 // with rotation: the name pattern (see file_writer.cc)
  // tcpdump's -G with a % in -w: `path` is a strftime pattern of each file's start (local time,
  // as tcpdump's), used as it is; with -C, or once a name repeats, _NNNNN goes before the extension.
  bool strftime_names = false;
  // Keep the names of files rotation closes for take_rotated_files() (else none are kept).
  bool list_rotated = false;
  FileFormat format = FileFormat::kPcapng;
  RotationPolicy rotation;
  size_t buffer_bytes = 1 << 20;
  SectionInfo section;              // SHB options for pcapng (comments, hardware, os, userappl)
  // pcapng: a file holds only the interfaces that have a packet in it, their IDBs written before
  // their first packet there (interface ids in a file are then its own), so that with many
  // interfaces every rotated file does not start with all of them and -C bounds its size.
  bool interfaces_on_first_use = false;
  // Create every file with O_EXCL: never truncate a file this writer did not create (a name
  // taken by another file is an error, not an overwrite).
  bool exclusive = false;
  // Regular files written around the page cache (O_DIRECT, see pcap/direct_file.h) where their
  // file system takes it, through it elsewhere. The bytes reach the file in chunks of
  // buffer_bytes up to direct_max_chunk (a busy file's chunks grow), all of them by flush() and
  // close(). A failed write cuts the file back to the last block boundary of a drain (a full
  // buffer, release_referenced()) that the device had taken whole.
  bool direct_io = false;
  size_t direct_max_chunk = 1 << 20;
  // Called when a file is closed, to fill its ISBs (pcapng); may be empty.
  std::function<InterfaceStats(uint32_t iface)> stats_for_interface;
};

class CaptureWriter {
 public:
  // Opens the first file; throws CaptureError(kOutput) naming the path on failure, also when
  // another writer of this process has the same path open.
  explicit CaptureWriter(WriterOptions options);
  ~CaptureWriter();  // closes (errors ignored: call close() to see them)

  // Declares the next interface (index = number of earlier calls). May be called after
  // packets were written (a pcapng IDB is then written before the next packet of it).
  // pcap: every interface must share one link type, else CaptureError(kUsage).
  void add_interface(const InterfaceInfo& info);
  size_t interface_count() const;

  void write(const PacketRecord& rec, const uint8_t* packet_bytes);
  void write_batch(const Batch& batch);
  // As write(), but a packet of at least kReferencedMinBytes is not copied into the buffer: the
  // writer keeps a pointer and hands the bytes to the kernel in place (writev) at its next drain.
  // They must stay valid and unchanged until release_referenced() returns (call it before they
  // go; after a write error they are forgotten, as the rest of what was buffered).
  void write_referenced(const PacketRecord& rec, const uint8_t* packet_bytes);
  void release_referenced();  // drains if anything referenced is pending
  static constexpr uint32_t kReferencedMinBytes = 512;  // smaller packets are cheaper to copy
  void flush();   // hands buffered bytes to the kernel
  void close();   // ISBs (pcapng), flush, close; idempotent; throws CaptureError(kOutput)

  // The current file's size once `rec` is written to it and it is closed: what is written or
  // buffered, the record (and its IDB, first use), and with interfaces_on_first_use the ISBs the
  // file ends with. A caller keeping a file under a size cap asks before each write.
  uint64_t file_bytes_with(const PacketRecord& rec) const;

  bool writing_direct() const;  // the current file is written around the page cache
  uint64_t packets_written() const;
  uint64_t bytes_written() const;        // file bytes, all files
  std::vector<std::string> files() const;  // files written, oldest first (deleted ones excluded)
  // With list_rotated: files closed by rotation since the last call, oldest first (tcpdump's -z
  // runs a command on each). Safe to call from another thread than the one writing; the last
  // file is not among them.
  std::vector<std::string> take_rotated_files();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Format from a file name: .pcapng -> pcapng, .pcap (or anything else) -> pcap (microseconds).
FileFormat format_from_path(const std::string& path);

}  // namespace podspan
