// Our own pcap / pcapng reader. The whole file is one read-only byte range (mmap, or memory
// the caller owns); every field is loaded with memcpy after a bounds check, so no input can
// make us read outside it. read() copies packets into a reused Batch: no allocation per
// packet once the batch has grown to its working size.
//
// pcap: magics a1b2c3d4 (µs) and a1b23c4d (ns) in both byte orders, and Kuznetzov's
// modified format a1b2cd34 (8 more bytes per record header). pcapng: draft-ietf-opsawg-pcapng,
// any number of sections, each in its own byte order, with any mix of link types.
#include "pcap/file_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "common/errors.h"

namespace podspan {
namespace {

constexpr uint32_t kMaxSnaplen = 262144;  // libpcap's MAXIMUM_SNAPLEN

constexpr uint32_t kPcapMagicUs = 0xa1b2c3d4;
constexpr uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr uint32_t kPcapMagicKuznetzov = 0xa1b2cd34;
constexpr uint32_t kPcapngShbType = 0x0a0d0d0a;  // reads the same in both byte orders
constexpr uint32_t kPcapngByteOrderMagic = 0x1a2b3c4d;

// pcapng block types we use; every other type is skipped.
constexpr uint32_t kBlockPacketObsolete = 2;
constexpr uint32_t kBlockIdb = 1;
constexpr uint32_t kBlockSpb = 3;
constexpr uint32_t kBlockEpb = 6;
// Interfaces one file may define (all sections together): each costs a few hundred bytes here
// and in every consumer (3 M IDBs took 2.7 GB), and no real capture comes near it.
constexpr size_t kMaxInterfaces = 65536;

inline uint16_t ld16(const uint8_t* p, bool swap) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swap ? static_cast<uint16_t>((v >> 8) | (v << 8)) : v;
}
inline uint32_t ld32(const uint8_t* p, bool swap) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swap ? __builtin_bswap32(v) : v;
}
inline uint64_t ld64(const uint8_t* p, bool swap) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swap ? __builtin_bswap64(v) : v;
}
inline uint32_t raw32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
std::string num(uint64_t v) { return std::to_string(v); }

// Timestamp units of one interface → nanoseconds since the epoch, set up once per IDB so the
// per-packet work is one multiply (decimal), one divide (finer than ns) or one multiply and
// shift (binary resolutions), plus the if_tsoffset seconds. The arithmetic is 128-bit, and a
// time outside what 64-bit nanoseconds hold is clamped to 0 or 2^64-1 rather than wrapped.
struct TsConv {
  enum Kind : uint8_t { kMul, kDiv, kBinary, kZero } kind = kMul;
  uint8_t shift = 0;
  uint64_t factor = 1000;  // default resolution 10^-6
  __int128 offset_ns = 0;  // if_tsoffset * 10^9

  void set_resolution(uint8_t tsresol) {
    if (tsresol & 0x80) {  // 2^-n seconds
      kind = kBinary;
      shift = tsresol & 0x7f;
      return;
    }
    if (tsresol <= 9) {  // 10^-n s, n <= 9: multiply by 10^(9-n)
      kind = kMul;
      factor = 1;
      for (int i = tsresol; i < 9; ++i) factor *= 10;
      return;
    }
    if (tsresol <= 28) {  // finer than ns: divide by 10^(n-9), at most 10^19 (fits 64 bits)
      kind = kDiv;
      factor = 1;
      for (int i = 9; i < tsresol; ++i) factor *= 10;
      return;
    }
    kind = kZero;  // units of 10^-29 s or finer: any 64-bit count is under one ns
  }
  void set_offset_seconds(int64_t seconds) { offset_ns = static_cast<__int128>(seconds) * 1000000000; }

  uint64_t to_ns(uint64_t units) const {
    unsigned __int128 ns;
    switch (kind) {
      case kMul: ns = static_cast<unsigned __int128>(units) * factor; break;
      case kDiv: ns = units / factor; break;
      case kBinary: ns = (static_cast<unsigned __int128>(units) * 1000000000u) >> shift; break;
      default: ns = 0; break;
    }
    if (offset_ns != 0) {
      const __int128 t = static_cast<__int128>(ns) + offset_ns;  // |ns| < 2^95, |offset| < 2^93
      if (t < 0) return 0;
      ns = static_cast<unsigned __int128>(t);
    }
    return ns > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(ns);
  }
};

// The file's bytes: a read-only mapping of a regular file, a buffer read from a pipe, or
// memory the caller owns.
// A record or block longer than this is refused on a stream (pipe) rather than buffered: no
// real one comes near it, and a damaged length must not make the window grow without bound.
constexpr uint32_t kMaxStreamedRecord = 64u << 20;

class Source {
 public:
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (mapped_) unmap();
    if (fd_ >= 0) ::close(fd_);
  }

  // "-" is standard input (a pipe, a socket or a redirected file), as for tcpdump.
  void open_file(const std::string& path) {
    const int fd = path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CaptureError(ErrorKind::kInputFile, path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw CaptureError(ErrorKind::kInputFile, path + ": cannot open: " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      throw CaptureError(ErrorKind::kInputFile, path + ": is a directory");
    }
    try {
      if (S_ISREG(st.st_mode) && st.st_size > 0 && map(fd, static_cast<size_t>(st.st_size))) {
        ::close(fd);
        return;
      }
      if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        throw CaptureError(ErrorKind::kInputFile, path + ": not a regular file");
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
    // Pipes, and files that cannot be mapped: read as the reader goes, through a window, so a
    // decompressor's output of any size streams through bounded memory. A pipe's 64 KiB made
    // the writer and this reader take turns every 64 KiB; 1 MiB (what an unprivileged process
    // may set) lets each run longer. A refusal leaves the pipe as it was.
#ifdef F_SETPIPE_SZ
    if (S_ISFIFO(st.st_mode)) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
    fd_ = fd;
    path_ = path;
  }

  void use_memory(const uint8_t* data, size_t len) {
    data_ = data;
    size_ = len;
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Bytes before `pos` will not be parsed again: unmap their pages every 64 MiB, so reading a
  // large file does not hold it all in the process's resident set. Only well behind `pos`:
  // consumers may still be writing payload lent from there (a released page is only faulted in
  // again from the page cache).
  void done_before(size_t pos) {
    constexpr size_t kStep = 64u << 20, kLag = 256u << 20;
    if (!mapped_) return;
    consumed_.store(pos, std::memory_order_relaxed);
    if (pos >= kStep + kLag) release_until((pos - kLag) & ~(kStep - 1), kStep);
  }

  // FileReader::tend_mapping, from another thread: 4 MiB at a time at least.
  void tend_mapping(size_t behind, size_t ahead) {
    constexpr size_t kStep = 4u << 20;
    if (!mapped_) return;
    const size_t pos = consumed_.load(std::memory_order_relaxed);
    if (pos >= kStep + behind) release_until((pos - behind) & ~(kStep - 1), kStep);
    if (ahead > 0) populate_ahead(pos, ahead, kStep);
  }

  // Tests and fuzzing: memory served as a stream, `chunk` bytes per read.
  void stream_memory(const uint8_t* data, size_t len, size_t chunk) {
    mem_ = data;
    mem_left_ = len;
    mem_chunk_ = chunk < 1 ? 1 : chunk;
  }

  bool streaming() const { return fd_ >= 0 || mem_ != nullptr; }
  const std::string& read_error() const { return read_error_; }

  // Streaming: reads until the window holds `want_end` bytes or the input ends (a read error
  // ends it too, kept in read_error()). data() may move.
  void fill(size_t want_end) {
    constexpr size_t kChunk = 1 << 20;
    while (size_ < want_end && !eof_) {
      if (buffer_.size() - size_ < kChunk) buffer_.resize(std::max(size_ + kChunk, want_end));
      const ssize_t n = mem_ ? from_memory(buffer_.size() - size_) : ::read(fd_, buffer_.data() + size_, buffer_.size() - size_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_error_ = path_ + ": cannot read: " + std::strerror(errno);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      size_ += static_cast<size_t>(n);
    }
    data_ = buffer_.data();
  }
  // Streaming: drops the window's bytes before `pos`; returns how many.
  size_t discard_before(size_t pos) {
    std::memmove(buffer_.data(), buffer_.data() + pos, size_ - pos);
    size_ -= pos;
    return pos;
  }

 private:
  ssize_t from_memory(size_t room) {
    const size_t n = std::min(std::min(room, mem_chunk_), mem_left_);
    std::memcpy(buffer_.data() + size_, mem_, n);
    mem_ += n;
    mem_left_ -= n;
    return static_cast<ssize_t>(n);
  }

  // Unmaps [released_, end) (end page aligned) once that is at least `step` bytes. Whichever
  // thread holds the lock does it; the other goes on without waiting.
  void release_until(size_t end, size_t step) {
    std::unique_lock<std::mutex> lock(release_mu_, std::try_to_lock);
    if (!lock.owns_lock() || end < released_ + step) return;
    madvise(const_cast<uint8_t*>(data_) + released_, end - released_, MADV_DONTNEED);
    released_ = end;
  }

  // Maps in what lies between the reader (at `pos`) and `ahead` bytes past it, once that is at
  // least `step` bytes not mapped in yet or reaches the end, without waiting for the lock
  // either. MADV_POPULATE_READ (Linux 5.14) fills the page tables as the reader's faults would,
  // 16 pages per fault; a kernel without it is not asked again. At most 8 MiB per call: pages
  // not in the page cache are read from the disk then, and the caller (JavaScript's thread)
  // should not wait for much of that at once.
  void populate_ahead(size_t pos, size_t ahead, size_t step) {
#ifdef MADV_POPULATE_READ
    constexpr size_t kMostPerCall = 8u << 20;
    std::unique_lock<std::mutex> lock(release_mu_, std::try_to_lock);
    if (!lock.owns_lock() || !populate_) return;
    const size_t from = std::max({populated_, released_, pos}) & ~size_t{4095};
    const size_t end = std::min({size_, pos + ahead, from + kMostPerCall});
    if (end <= from || (end < from + step && end < size_)) return;
    if (madvise(const_cast<uint8_t*>(data_) + from, end - from, MADV_POPULATE_READ) != 0) populate_ = false;
    populated_ = end;
#else
    (void)pos;
    (void)ahead;
    (void)step;
#endif
  }

  // Tearing a mapping down costs ~40 ns per page (~12 ms per 300 MB), on the thread that closes
  // the session, after the work, with the other core idle by then. What is still mapped of a
  // large file is dropped by two threads at once (MADV_DONTNEED takes the mapping's lock shared,
  // where munmap takes it alone), then the emptied mapping goes.
  void unmap() {
    constexpr size_t kTwoThreadsFrom = 64u << 20, kPage = 4096;
    auto* base = const_cast<uint8_t*>(data_);
    std::lock_guard<std::mutex> lock(release_mu_);
    if (size_ - std::min(size_, released_) >= kTwoThreadsFrom) {
      const size_t half = (released_ + (size_ - released_) / 2) & ~(kPage - 1);
      try {
        std::thread first([=] { madvise(base + released_, half - released_, MADV_DONTNEED); });
        madvise(base + half, size_ - half, MADV_DONTNEED);
        first.join();
      } catch (const std::system_error&) {
        // No thread to be had: munmap alone does it all.
      }
    }
    munmap(base, size_);
  }

  bool map(int fd, size_t size) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return false;
    madvise(m, size, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t*>(m);
    size_ = size;
    mapped_ = true;
    return true;
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::atomic<size_t> consumed_{0};  // read() has gone past every byte before this
  std::mutex release_mu_;
  size_t released_ = 0;  // pages before this are unmapped (under release_mu_)
  size_t populated_ = 0;  // pages before this were mapped in ahead of the reader (under release_mu_)
  bool populate_ = true;  // false once the kernel refused MADV_POPULATE_READ (under release_mu_)
  int fd_ = -1;  // streaming
  const uint8_t* mem_ = nullptr;  // streaming from memory (tests)
  size_t mem_left_ = 0, mem_chunk_ = 0;
  bool eof_ = false;
  std::string path_, read_error_;
  std::vector<uint8_t> buffer_;
};

class ReaderBase : public FileReader {
 public:
  ReaderBase(std::unique_ptr<Source> src, std::string name)
      : src_(std::move(src)), name_(std::move(name)), base_(src_->data()), size_(src_->size()) {}
  const uint8_t* contents() const override { return src_->streaming() ? nullptr : base_; }
  size_t contents_size() const override { return src_->streaming() ? 0 : size_; }
  const std::vector<InterfaceInfo>& interfaces() const override { return interfaces_; }
  const std::vector<SectionInfo>& sections() const override { return sections_; }
  const std::string& error() const override { return error_; }
  uint64_t skipped_blocks() const override { return skipped_; }
  void tend_mapping(size_t behind, size_t ahead) override { src_->tend_mapping(behind, ahead); }

 protected:
  // Records the damage: "<name>: <what>", where `what` names the byte offset.
  ReadStatus fail(const std::string& what) {
    // Damage found after a failed read of a streamed input is the read's doing: say that.
    error_ = src_->read_error().empty() ? name_ + ": " + what : src_->read_error();
    failed_ = true;
    return ReadStatus::kError;
  }
  // Bytes from pos_ on that the parser may look at, having asked for `want` of them: a streamed
  // input is read on demand (base_ may move, so pointers are taken after this).
  size_t available(size_t want) {
    if (size_ - pos_ < want && src_->streaming()) {
      src_->fill(pos_ + want);
      base_ = src_->data();
      size_ = src_->size();
    }
    return size_ - pos_;
  }
  // A mapped file is read one record header at a time, ~1.5 KB apart for full-size frames: each
  // was a cache miss the next header's address depended on (a chain the CPU could not overlap).
  // Prefetching every line up to 4 KiB ahead of the parser overlaps them: 0.21 -> 0.16 s of
  // user time for `podspan streams` on 272 k full-size packets (2 KiB and 8 KiB did no better).
  void prefetch_ahead() {
    constexpr size_t kAhead = 4096, kLine = 64;
    if (src_->streaming()) return;  // a streamed window was just written by read(): cached
    const size_t until = std::min(size_, pos_ + kAhead);
    if (prefetched_ < pos_) prefetched_ = pos_ & ~(kLine - 1);
    for (; prefetched_ < until; prefetched_ += kLine) __builtin_prefetch(base_ + prefetched_);
  }
  // The file offset of window position p, for messages.
  uint64_t at(size_t p) const { return window_start_ + p; }
  // At the start of read(): a streamed input's window drops what earlier reads went past.
  void slide() {
    if (!src_->streaming() || pos_ == 0) return;
    window_start_ += src_->discard_before(pos_);
    pos_ = 0;
    base_ = src_->data();
    size_ = src_->size();
  }

  std::unique_ptr<Source> src_;
  std::string name_;
  const uint8_t* base_;
  size_t size_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<SectionInfo> sections_;
  std::string error_;
  size_t pos_ = 0;             // in the window (the whole file unless streamed)
  uint64_t window_start_ = 0;  // file offset of base_[0]
  uint64_t skipped_ = 0;
  bool failed_ = false;
  size_t prefetched_ = 0;  // prefetch_ahead() has covered the lines before this
};

// ---------------------------------------------------------------------------------------------
// pcap

class PcapReader : public ReaderBase {
 public:
  PcapReader(std::unique_ptr<Source> src, std::string name) : ReaderBase(std::move(src), std::move(name)) {
    // make_reader checked that 24 bytes are present and that the magic is one of ours.
    uint32_t magic = raw32(base_);
    swap_ = magic != kPcapMagicUs && magic != kPcapMagicNs && magic != kPcapMagicKuznetzov;
    if (swap_) magic = __builtin_bswap32(magic);
    nanosecond_ = magic == kPcapMagicNs;
    hdr_len_ = magic == kPcapMagicKuznetzov ? 24 : 16;  // ifindex, protocol, pkt_type, pad
    const uint16_t major = ld16(base_ + 4, swap_), minor = ld16(base_ + 6, swap_);
    if (major != 2) {
      throw CaptureError(ErrorKind::kCorruptFile, name_ + ": unsupported pcap version " + num(major) + "." + num(minor));
    }
    // Like libpcap: before 2.3 caplen and len were stored the other way round, and some 2.3
    // writers did either.
    lengths_ = minor < 3 ? kSwapped : minor == 3 ? kMaybeSwapped : kInOrder;
    snaplen_ = ld32(base_ + 16, swap_);
    const uint32_t linktype_field = ld32(base_ + 20, swap_);
    // Bits 0-15: link type; 16-25: reserved, must be zero; 26-31: FCS length information.
    if ((linktype_field & 0x03ff0000u) != 0) {
      throw CaptureError(ErrorKind::kCorruptFile, name_ + ": reserved bits of the link type field are set (" +
                                                      hex32(linktype_field) + ")");
    }
    InterfaceInfo info;
    info.linktype = static_cast<uint16_t>(linktype_field & 0xffff);
    info.snaplen = snaplen_;
    interfaces_.push_back(std::move(info));
    sections_.emplace_back();
    max_caplen_ = snaplen_ > kMaxSnaplen ? snaplen_ : kMaxSnaplen;
    pos_ = 24;
  }

  Format format() const override { return Format::kPcap; }
  bool nanosecond() const override { return nanosecond_; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    out.clear();
    if (failed_) return ReadStatus::kError;
    const uint64_t frac_mul = nanosecond_ ? 1 : 1000;
    slide();
    // Borrowing spares a copy of every packet; pcap records hold nothing but the packet. A
    // mapping or the caller's memory stays in place; a streamed window may move as it fills.
    const bool borrow = out.may_borrow && !src_->streaming();
    const size_t first = pos_;
    if (borrow) out.borrowed = base_ + first;
    while (out.size() < max_packets && out.used < max_bytes) {
      prefetch_ahead();
      size_t left = available(hdr_len_);
      if (left == 0) return ReadStatus::kEnd;
      if (left < hdr_len_) return truncated(hdr_len_, left);
      const uint8_t* r = base_ + pos_;
      const uint32_t sec = ld32(r, swap_), frac = ld32(r + 4, swap_);
      uint32_t caplen = ld32(r + 8, swap_), origlen = ld32(r + 12, swap_);
      if (lengths_ == kSwapped || (lengths_ == kMaybeSwapped && caplen > origlen)) std::swap(caplen, origlen);
      if (caplen > max_caplen_) {
        return fail("captured length " + num(caplen) + " is larger than the maximum " + num(max_caplen_) +
                    " at offset " + num(at(pos_)));
      }
      if (left - hdr_len_ < caplen) {
        if (src_->streaming() && caplen > kMaxStreamedRecord) {
          return fail("packet record at offset " + num(at(pos_)) + " claims " + num(caplen) +
                      " bytes, more than podspan buffers from a stream (" + num(kMaxStreamedRecord) + ")");
        }
        left = available(hdr_len_ + caplen);
        if (left - hdr_len_ < caplen) return truncated(hdr_len_ + caplen, left);
        r = base_ + pos_;
      }
      const uint64_t ts = static_cast<uint64_t>(sec) * 1000000000ull + frac * frac_mul;
      if (borrow) {
        PacketRecord rec;
        rec.ts_ns = ts;
        rec.offset = static_cast<uint32_t>(pos_ + hdr_len_ - first);
        rec.caplen = caplen;
        rec.origlen = origlen;
        out.records.push_back(rec);
        out.used += caplen;  // the batch limits count packet bytes, as when copying
      } else {
        out.append(r + hdr_len_, caplen, origlen, ts, 0);
      }
      pos_ += hdr_len_ + caplen;
    }
    src_->done_before(borrow ? first : pos_);  // borrowed bytes must stay mapped
    return ReadStatus::kOk;
  }

 private:
  enum Lengths : uint8_t { kInOrder, kSwapped, kMaybeSwapped };

  ReadStatus truncated(size_t needed, size_t have) {
    return fail("file ends in the middle of a packet record at offset " + num(at(pos_)) + " (needed " + num(needed) +
                " bytes, have " + num(have) + ")");
  }

  bool swap_ = false, nanosecond_ = false;
  Lengths lengths_ = kInOrder;
  size_t hdr_len_ = 16;
  uint32_t snaplen_ = 0, max_caplen_ = kMaxSnaplen;
};

// ---------------------------------------------------------------------------------------------
// pcapng

class PcapngReader : public ReaderBase {
 public:
  PcapngReader(std::unique_ptr<Source> src, std::string name) : ReaderBase(std::move(src), std::move(name)) {
    // The first SHB is checked now, so a file that is not pcapng or has a bad header fails at
    // open; the IDBs right behind it are read too, so interfaces() is useful before read().
    if (available(28) < 28) throw CaptureError(ErrorKind::kCorruptFile, name_ + ": truncated header");
    const uint32_t bom = raw32(base_ + 8);
    if (bom != kPcapngByteOrderMagic && bom != __builtin_bswap32(kPcapngByteOrderMagic)) {
      throw CaptureError(ErrorKind::kInputFile, name_ + ": not a pcap or pcapng file (pcapng section header with " +
                                                    "unknown byte-order magic " + hex32(bom) + ")");
    }
    if (section_header() != ReadStatus::kOk) throw CaptureError(ErrorKind::kCorruptFile, error_);
    Batch none;
    while (available(8) >= 8 && ld32(base_ + pos_, swap_) == kBlockIdb) {
      if (block(none) != ReadStatus::kOk) break;  // read() reports it
    }
  }

  Format format() const override { return Format::kPcapng; }
  bool nanosecond() const override { return true; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    out.clear();
    if (failed_) return ReadStatus::kError;
    slide();
    while (out.size() < max_packets && out.used < max_bytes) {
      prefetch_ahead();
      if (available(1) == 0) return ReadStatus::kEnd;
      const ReadStatus st = block(out);
      if (st != ReadStatus::kOk) return st;
    }
    src_->done_before(pos_);
    return ReadStatus::kOk;
  }

 private:
  struct Iface {
    uint32_t global = 0;  // index into interfaces_
    uint32_t snaplen = 0;
    TsConv ts;
  };

  // Streamed input: reads the rest of a block of `total` bytes into the window (`left` becomes
  // what is there). A block larger than any real one is refused rather than buffered.
  bool whole_block(size_t start, uint32_t total, size_t& left) {
    if (!src_->streaming()) return true;
    if (total > kMaxStreamedRecord) {
      fail("block at offset " + num(at(start)) + " claims " + num(total) + " bytes, more than podspan buffers from a stream (" +
           num(kMaxStreamedRecord) + ")");
      return false;
    }
    left = available(total);
    return true;
  }

  // Reads the block at pos_ and moves past it.
  ReadStatus block(Batch& out) {
    const size_t start = pos_;
    size_t left = available(12);
    if (left < 12) {
      return fail("file ends in the middle of a block header at offset " + num(at(start)) + " (needed 12 bytes, have " +
                  num(left) + ")");
    }
    const uint8_t* b = base_ + start;
    if (raw32(b) == kPcapngShbType) return section_header();
    const uint32_t type = ld32(b, swap_), total = ld32(b + 4, swap_);
    if (total < 12 || total % 4 != 0) {
      return fail("block at offset " + num(at(start)) + " has an invalid length " + num(total) +
                  " (must be a multiple of 4, at least 12)");
    }
    if (total > left) {
      if (!whole_block(start, total, left)) return ReadStatus::kError;
      b = base_ + start;
    }
    if (total > left) {
      return fail("file ends in the middle of a block at offset " + num(at(start)) + " (block length " + num(total) +
                  ", have " + num(left) + ")");
    }
    const uint32_t trailing = ld32(b + total - 4, swap_);
    if (trailing != total) {
      return fail("block at offset " + num(at(start)) + ": trailing length " + num(trailing) +
                  " does not match the leading length " + num(total));
    }
    const uint8_t* body = b + 8;
    const size_t n = total - 12;
    ReadStatus st = ReadStatus::kOk;
    switch (type) {
      case kBlockEpb: st = packet_block(body, n, start, out, false); break;
      case kBlockSpb: st = simple_packet(body, n, start, out); break;
      case kBlockIdb: st = interface_block(body, n, start); break;
      case kBlockPacketObsolete: st = packet_block(body, n, start, out, true); break;
      default: ++skipped_; break;  // ISB, NRB, DSB, journal export, custom, unknown
    }
    if (st == ReadStatus::kOk) pos_ = start + total;
    return st;
  }

  // A Section Header Block at pos_: sets the byte order and starts a new interface list.
  ReadStatus section_header() {
    const size_t start = pos_;
    size_t left = available(28);
    if (left < 28) {
      return fail("file ends in the middle of a section header block at offset " + num(at(start)) +
                  " (needed 28 bytes, have " + num(left) + ")");
    }
    const uint8_t* b = base_ + start;
    const uint32_t bom = raw32(b + 8);
    bool swap;
    if (bom == kPcapngByteOrderMagic) {
      swap = false;
    } else if (bom == __builtin_bswap32(kPcapngByteOrderMagic)) {
      swap = true;
    } else {
      return fail("section header block at offset " + num(at(start)) + " has an invalid byte-order magic " + hex32(bom));
    }
    const uint32_t total = ld32(b + 4, swap);
    if (total < 28 || total % 4 != 0) {
      return fail("section header block at offset " + num(at(start)) + " has an invalid length " + num(total));
    }
    if (total > left) {
      if (!whole_block(start, total, left)) return ReadStatus::kError;
      b = base_ + start;
    }
    if (total > left) {
      return fail("file ends in the middle of a section header block at offset " + num(at(start)) + " (block length " +
                  num(total) + ", have " + num(left) + ")");
    }
    const uint32_t trailing = ld32(b + total - 4, swap);
    if (trailing != total) {
      return fail("section header block at offset " + num(at(start)) + ": trailing length " + num(trailing) +
                  " does not match the leading length " + num(total));
    }
    const uint16_t major = ld16(b + 12, swap), minor = ld16(b + 14, swap);
    // 1.0 is the standard; 1.2 was written by some old tools and libpcap and Wireshark read
    // it. Wireshark and libpcap refuse 1.1 and every other version, and so do we.
    if (major != 1 || (minor != 0 && minor != 2)) {
      return fail("unsupported pcapng version " + num(major) + "." + num(minor) + " in the section header block at offset " +
                  num(at(start)));
    }
    swap_ = swap;
    SectionInfo section;
    const ReadStatus st = for_each_option(b + 24, total - 28, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
      const char* s = reinterpret_cast<const char*>(v);
      switch (code) {
        case 1: section.comments.emplace_back(s, len); break;
        case 2: section.hardware.assign(s, len); break;
        case 3: section.os.assign(s, len); break;
        case 4: section.userappl.assign(s, len); break;
        default: break;
      }
    });
    if (st != ReadStatus::kOk) return st;
    sections_.push_back(std::move(section));
    section_ifaces_.clear();
    pos_ = start + total;
    return ReadStatus::kOk;
  }

  // Calls fn(code, value, length) for each option in [p, p + n) up to opt_endofopt; an option
  // whose value runs past the block is damage. Bytes too few for another option header are
  // ignored (writers pad differently).
  template <typename Fn>
  ReadStatus for_each_option(const uint8_t* p, size_t n, size_t block_start, Fn&& fn) {
    size_t off = 0;
    while (n - off >= 4) {
      const uint16_t code = ld16(p + off, swap_), len = ld16(p + off + 2, swap_);
      if (code == 0) return ReadStatus::kOk;
      if (len > n - off - 4) {
        return fail("option " + num(code) + " of length " + num(len) + " runs past the end of its block at offset " +
                    num(at(block_start)));
      }
      fn(code, p + off + 4, len);
      const size_t step = 4 + ((static_cast<size_t>(len) + 3) & ~size_t{3});
      if (step >= n - off) break;
      off += step;
    }
    return ReadStatus::kOk;
  }

  // Appends an option as TLV: code and length in host byte order, value verbatim, zero padded.
  static void keep_option(std::vector<uint8_t>& into, uint16_t code, const uint8_t* v, uint16_t len) {
    const size_t at = into.size();
    into.resize(at + 4 + ((len + 3u) & ~3u), 0);
    std::memcpy(into.data() + at, &code, 2);
    std::memcpy(into.data() + at + 2, &len, 2);
    if (len) std::memcpy(into.data() + at + 4, v, len);
  }

  ReadStatus interface_block(const uint8_t* body, size_t n, size_t start) {
    if (n < 8) return fail("interface description block at offset " + num(at(start)) + " is too short");
    if (interfaces_.size() >= kMaxInterfaces) {
      return fail("interface description block at offset " + num(at(start)) + " would be interface " +
                  num(interfaces_.size() + 1) + " of the file; podspan reads at most " + num(kMaxInterfaces));
    }
    InterfaceInfo info;
    Iface ifc;
    info.linktype = ld16(body, swap_);
    info.snaplen = ld32(body + 4, swap_);
    ifc.snaplen = info.snaplen;
    const ReadStatus st = for_each_option(body + 8, n - 8, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
      switch (code) {
        case 2: info.name.assign(reinterpret_cast<const char*>(v), len); break;
        case 3: info.description.assign(reinterpret_cast<const char*>(v), len); break;
        case 9:
          if (len >= 1) ifc.ts.set_resolution(v[0]);
          break;
        case 14:
          if (len >= 8) ifc.ts.set_offset_seconds(static_cast<int64_t>(ld64(v, swap_)));
          break;
        default: keep_option(info.extra_options, code, v, len); break;
      }
    });
    if (st != ReadStatus::kOk) return st;
    ifc.global = static_cast<uint32_t>(interfaces_.size());
    interfaces_.push_back(std::move(info));
    section_ifaces_.push_back(ifc);
    return ReadStatus::kOk;
  }

  const Iface* iface_of(uint32_t id, size_t start) {
    if (id < section_ifaces_.size()) return &section_ifaces_[id];
    fail("packet block at offset " + num(at(start)) + " refers to interface " + num(id) + ", which its section does not define" +
         (section_ifaces_.empty() ? std::string(" (it defines none)")
                                  : " (it defines " + num(section_ifaces_.size()) + ")"));
    return nullptr;
  }

  // Enhanced Packet Block (type 6) and the obsolete Packet Block (type 2), which has a 16-bit
  // interface id followed by a 16-bit drops count where the EPB has a 32-bit interface id.
  ReadStatus packet_block(const uint8_t* body, size_t n, size_t start, Batch& out, bool obsolete) {
    if (n < 20) return fail("packet block at offset " + num(at(start)) + " is too short (" + num(n + 12) + " bytes)");
    const uint32_t id = obsolete ? ld16(body, swap_) : ld32(body, swap_);
    const uint64_t units = (static_cast<uint64_t>(ld32(body + 4, swap_)) << 32) | ld32(body + 8, swap_);
    const uint32_t caplen = ld32(body + 12, swap_), origlen = ld32(body + 16, swap_);
    if (caplen > n - 20) {
      return fail("packet block at offset " + num(at(start)) + ": captured length " + num(caplen) +
                  " runs past the end of its block");
    }
    const Iface* ifc = iface_of(id, start);
    if (ifc == nullptr) return ReadStatus::kError;
    // n - 20 is a multiple of 4, so the padded packet data fits too.
    const size_t padded = (static_cast<size_t>(caplen) + 3) & ~size_t{3};
    const uint8_t* opts = body + 20 + padded;
    const size_t opts_len = n - 20 - padded;
    uint32_t optlen = 0;
    if (opts_len >= 4) {
      opt_scratch_.clear();
      const ReadStatus st = for_each_option(opts, opts_len, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
        keep_option(opt_scratch_, code, v, len);
      });
      if (st != ReadStatus::kOk) return st;
      optlen = static_cast<uint32_t>(opt_scratch_.size());
    }
    out.append(body + 20, caplen, origlen, ifc->ts.to_ns(units), ifc->global, opt_scratch_.data(), optlen);
    return ReadStatus::kOk;
  }

  // Simple Packet Block: interface 0 of the section, no timestamp, the original length in the
  // block; the captured length is what the interface's snaplen and the block leave of it.
  ReadStatus simple_packet(const uint8_t* body, size_t n, size_t start, Batch& out) {
    if (n < 4) return fail("simple packet block at offset " + num(at(start)) + " is too short");
    if (section_ifaces_.empty()) {
      return fail("simple packet block at offset " + num(at(start)) + " comes before any interface of its section");
    }
    const Iface& ifc = section_ifaces_[0];
    const uint32_t origlen = ld32(body, swap_);
    uint32_t caplen = origlen;
    if (ifc.snaplen != 0 && caplen > ifc.snaplen) caplen = ifc.snaplen;
    if (caplen > n - 4) caplen = static_cast<uint32_t>(n - 4);
    out.append(body + 4, caplen, origlen, 0, ifc.global);
    return ReadStatus::kOk;
  }

  bool swap_ = false;
  std::vector<Iface> section_ifaces_;  // interfaces of the current section, by local id
  std::vector<uint8_t> opt_scratch_;   // a packet's options, reused
};

// ---------------------------------------------------------------------------------------------

bool is_pcap_magic(uint32_t m) {
  for (uint32_t k : {kPcapMagicUs, kPcapMagicNs, kPcapMagicKuznetzov}) {
    if (m == k || m == __builtin_bswap32(k)) return true;
  }
  return false;
}

std::unique_ptr<FileReader> make_reader(std::unique_ptr<Source> src, const std::string& name) {
  if (src->streaming()) src->fill(28);  // enough for either file header
  if (!src->read_error().empty()) throw CaptureError(ErrorKind::kInputFile, src->read_error());
  const size_t size = src->size();
  if (size == 0) throw CaptureError(ErrorKind::kInputFile, name + ": empty file, not a pcap or pcapng file");
  uint8_t head[4] = {0, 0, 0, 0};
  std::memcpy(head, src->data(), size < 4 ? size : 4);
  const uint32_t magic = raw32(head);
  if (size < 4) {
    // Too short to tell; a prefix of one of our magics is a truncated header, anything else
    // is not a capture file.
    bool prefix = false;
    for (uint32_t k : {kPcapMagicUs, kPcapMagicNs, kPcapMagicKuznetzov, kPcapngShbType}) {
      for (uint32_t m : {k, __builtin_bswap32(k)}) {
        uint8_t mb[4];
        std::memcpy(mb, &m, 4);
        prefix = prefix || std::memcmp(mb, head, size) == 0;
      }
    }
    if (prefix) throw CaptureError(ErrorKind::kCorruptFile, name + ": truncated header");
    throw CaptureError(ErrorKind::kInputFile,
                       name + ": not a pcap or pcapng file (only " + num(size) + " byte" + (size == 1 ? "" : "s") + ")");
  }
  if (magic == kPcapngShbType) return std::make_unique<PcapngReader>(std::move(src), name);
  if (is_pcap_magic(magic)) {
    if (size < 24) throw CaptureError(ErrorKind::kCorruptFile, name + ": truncated header");
    return std::make_unique<PcapReader>(std::move(src), name);
  }
  throw CaptureError(ErrorKind::kInputFile, name + ": not a pcap or pcapng file (unknown magic " + hex32(magic) + ")");
}

}  // namespace

std::unique_ptr<FileReader> FileReader::open(const std::string& path) {
  auto src = std::make_unique<Source>();
  src->open_file(path);
  return make_reader(std::move(src), path);
}

std::unique_ptr<FileReader> FileReader::from_memory_streamed(const uint8_t* data, size_t len, size_t chunk,
                                                             const std::string& name) {
  auto src = std::make_unique<Source>();
  src->stream_memory(data, len, chunk);
  return make_reader(std::move(src), name);
}

std::unique_ptr<FileReader> FileReader::from_memory(const uint8_t* data, size_t len, const std::string& name) {
  auto src = std::make_unique<Source>();
  src->use_memory(data, len);
  return make_reader(std::move(src), name);
}

}  // namespace podspan
