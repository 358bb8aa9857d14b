#include "file_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "errors.h"

namespace podspan {
namespace {

constexpr uint32_t kMaxSnaplen = 262144;

inline uint16_t bswap16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
inline uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

// Reads integers of either byte order from a bounds-checked range.
struct Bytes {
  const uint8_t* p = nullptr;
  size_t n = 0;
  bool swap = false;
  uint16_t u16(size_t off) const {
    uint16_t v;
    std::memcpy(&v, p + off, 2);
    return swap ? bswap16(v) : v;
  }
  uint32_t u32(size_t off) const {
    uint32_t v;
    std::memcpy(&v, p + off, 4);
    return swap ? bswap32(v) : v;
  }
  uint64_t u64(size_t off) const {
    uint64_t v;
    std::memcpy(&v, p + off, 8);
    return swap ? bswap64(v) : v;
  }
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Converts a timestamp in units of the interface's resolution to nanoseconds.
uint64_t to_ns(uint64_t units, uint8_t tsresol) {
  if (tsresol & 0x80) {
    const unsigned shift = tsresol & 0x7f;
    if (shift >= 64) return 0;
    const unsigned __int128 ns = static_cast<unsigned __int128>(units) * 1000000000u;
    return static_cast<uint64_t>(ns >> shift);
  }
  if (tsresol <= 9) {
    uint64_t mul = 1;
    for (int i = tsresol; i < 9; ++i) mul *= 10;
    return units * mul;
  }
  uint64_t div = 1;
  for (int i = 9; i < tsresol && i < 28; ++i) div *= 10;
  return tsresol >= 28 ? 0 : units / div;
}

// The file's bytes: a read-only mapping of a file, or memory the caller owns.
class Source {
 public:
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (mapped_ && data_ != nullptr && size_ > 0) munmap(const_cast<uint8_t*>(data_), size_);
  }
  void map_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw CaptureError(ErrorKind::kInputFile, path + ": cannot open: " + std::strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const int err = errno;
      ::close(fd);
      throw CaptureError(ErrorKind::kInputFile,
                         path + ": " + (S_ISDIR(st.st_mode) ? std::string("is a directory") : std::string("not a regular file: ") + std::strerror(err)));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw CaptureError(ErrorKind::kInputFile, path + ": cannot read: " + std::strerror(err));
      }
      madvise(m, size_, MADV_SEQUENTIAL);
      data_ = static_cast<const uint8_t*>(m);
      mapped_ = true;
    }
    ::close(fd);
  }
  void use_memory(const uint8_t* data, size_t len) {
    data_ = data;
    size_ = len;
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

class ReaderBase : public FileReader {
 public:
  ReaderBase(std::unique_ptr<Source> src, std::string name) : src_(std::move(src)), name_(std::move(name)) {}
  const std::vector<InterfaceInfo>& interfaces() const override { return interfaces_; }
  const std::vector<SectionInfo>& sections() const override { return sections_; }
  const std::string& error() const override { return error_; }
  uint64_t skipped_blocks() const override { return skipped_; }

 protected:
  ReadStatus fail(size_t offset, const std::string& what) {
    error_ = name_ + ": " + what + " at offset " + std::to_string(offset);
    failed_ = true;
    return ReadStatus::kError;
  }
  size_t remaining() const { return src_->size() - pos_; }
  const uint8_t* at(size_t off) const { return src_->data() + off; }

  std::unique_ptr<Source> src_;
  std::string name_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<SectionInfo> sections_;
  std::string error_;
  size_t pos_ = 0;
  uint64_t skipped_ = 0;
  bool failed_ = false;
};

class PcapReader : public ReaderBase {
 public:
  PcapReader(std::unique_ptr<Source> src, std::string name) : ReaderBase(std::move(src), std::move(name)) {
    Bytes h{at(0), 24, false};
    uint32_t magic = h.u32(0);
    if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1 || magic == 0x34cdb2a1) {
      h.swap = true;
      magic = bswap32(magic);
    }
    swap_ = h.swap;
    nanosecond_ = magic == 0xa1b23c4d;
    extended_ = magic == 0xa1b2cd34;  // Kuznetzov's modified format: 8 more bytes per record
    const uint16_t major = h.u16(4), minor = h.u16(6);
    if (major != 2) {
      throw CaptureError(ErrorKind::kCorruptFile, name_ + ": unsupported pcap version " + std::to_string(major) + "." +
                                                      std::to_string(minor));
    }
    snaplen_ = h.u32(16);
    const uint32_t linktype_field = h.u32(20);
    if ((linktype_field & 0x03ff0000u) != 0) {
      throw CaptureError(ErrorKind::kCorruptFile, name_ + ": reserved bits of the link type field are set (" +
                                                      hex32(linktype_field) + ")");
    }
    InterfaceInfo info;
    info.linktype = static_cast<uint16_t>(linktype_field & 0xffff);
    info.snaplen = snaplen_;
    interfaces_.push_back(info);
    sections_.emplace_back();
    pos_ = 24;
  }

  Format format() const override { return Format::kPcap; }
  bool nanosecond() const override { return nanosecond_; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    out.clear();
    if (failed_) return ReadStatus::kError;
    const size_t hdr = extended_ ? 24 : 16;
    const uint32_t limit = snaplen_ > kMaxSnaplen ? snaplen_ : kMaxSnaplen;
    while (out.size() < max_packets && out.used < max_bytes) {
      if (remaining() == 0) return ReadStatus::kEnd;
      if (remaining() < hdr) {
        return fail(pos_, "file ends in the middle of a packet record (needed " + std::to_string(hdr) +
                              " header bytes, have " + std::to_string(remaining()) + ")");
      }
      Bytes r{at(pos_), hdr, swap_};
      const uint32_t sec = r.u32(0), frac = r.u32(4), caplen = r.u32(8), origlen = r.u32(12);
      if (caplen > limit) {
        return fail(pos_, "captured length " + std::to_string(caplen) + " is larger than the maximum " +
                              std::to_string(limit));
      }
      if (remaining() - hdr < caplen) {
        return fail(pos_, "file ends in the middle of a packet record (needed " + std::to_string(caplen) +
                              " bytes, have " + std::to_string(remaining() - hdr) + ")");
      }
      const uint64_t ts = static_cast<uint64_t>(sec) * 1000000000ull +
                          (nanosecond_ ? frac : static_cast<uint64_t>(frac) * 1000u);
      out.append(at(pos_ + hdr), caplen, origlen, ts, 0);
      pos_ += hdr + caplen;
    }
    return ReadStatus::kOk;
  }

 private:
  bool swap_ = false, nanosecond_ = false, extended_ = false;
  uint32_t snaplen_ = 0;
};

class PcapngReader : public ReaderBase {
 public:
  PcapngReader(std::unique_ptr<Source> src, std::string name) : ReaderBase(std::move(src), std::move(name)) {
    // Read the first SHB now so a damaged header fails at open, and any IDBs right behind it
    // so interfaces() is useful before the first read().
    Batch none;
    const ReadStatus st = step(none, true);
    if (st == ReadStatus::kError) throw CaptureError(ErrorKind::kCorruptFile, error_);
    while (!failed_ && remaining() >= 8) {
      Bytes b{at(pos_), 8, swap_};
      if (b.u32(0) != 1) break;  // stop at the first block that is not an IDB
      if (step(none, false) == ReadStatus::kError) break;
    }
  }

  Format format() const override { return Format::kPcapng; }
  bool nanosecond() const override { return true; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    out.clear();
    if (failed_) return ReadStatus::kError;
    while (out.size() < max_packets && out.used < max_bytes) {
      if (remaining() == 0) return ReadStatus::kEnd;
      const ReadStatus st = step(out, false);
      if (st != ReadStatus::kOk) return st;
    }
    return ReadStatus::kOk;
  }

 private:
  struct Iface {
    uint32_t global = 0;
    uint8_t tsresol = 6;
    int64_t tsoffset = 0;
    uint32_t snaplen = 0;
  };

  // Reads one block at pos_.
  ReadStatus step(Batch& out, bool first) {
    const size_t start = pos_;
    if (remaining() < 12) return fail(start, "file ends in the middle of a block header");
    uint32_t type;
    std::memcpy(&type, at(start), 4);
    if (type == 0x0a0d0d0a) return section_header(start);
    if (first) return fail(start, "pcapng file does not start with a section header block");
    Bytes b{at(start), remaining(), swap_};
    const uint32_t total = b.u32(4);
    type = b.u32(0);
    if (total < 12 || total % 4 != 0) return fail(start, "block length " + std::to_string(total) + " is invalid");
    if (total > remaining()) {
      return fail(start, "file ends in the middle of a block (block length " + std::to_string(total) + ", have " +
                             std::to_string(remaining()) + ")");
    }
    if (b.u32(total - 4) != total) return fail(start, "block's trailing length does not match its leading length");
    Bytes body{at(start + 8), total - 12, swap_};
    ReadStatus st = ReadStatus::kOk;
    switch (type) {
      case 1: st = interface_block(body, start); break;
      case 6: st = enhanced_packet(body, start, out, false); break;
      case 3: st = simple_packet(body, start, out); break;
      case 2: st = enhanced_packet(body, start, out, true); break;
      default: ++skipped_; break;
    }
    if (st == ReadStatus::kOk) pos_ = start + total;
    return st;
  }

  ReadStatus section_header(size_t start) {
    if (remaining() < 28) return fail(start, "file ends in the middle of a section header block");
    uint32_t bom;
    std::memcpy(&bom, at(start + 8), 4);
    if (bom == 0x1a2b3c4d) {
      swap_ = false;
    } else if (bom == 0x4d3c2b1a) {
      swap_ = true;
    } else {
      return fail(start, "section header has an invalid byte-order magic " + hex32(bom));
    }
    Bytes b{at(start), remaining(), swap_};
    const uint32_t total = b.u32(4);
    if (total < 28 || total % 4 != 0 || total > remaining()) {
      return fail(start, "section header block length " + std::to_string(total) + " is invalid");
    }
    if (b.u32(total - 4) != total) return fail(start, "section header's trailing length does not match");
    const uint16_t major = b.u16(12), minor = b.u16(14);
    // 1.0 is the standard; 1.2 was written by some old tools and libpcap reads it too.
    if (major != 1 || (minor != 0 && minor != 2)) {
      return fail(start, "unsupported pcapng version " + std::to_string(major) + "." + std::to_string(minor));
    }
    SectionInfo section;
    Bytes opts{at(start + 24), total - 28, swap_};
    const ReadStatus st = for_each_option(opts, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
      const std::string s(reinterpret_cast<const char*>(v), len);
      if (code == 1) section.comments.push_back(s);
      if (code == 2) section.hardware = s;
      if (code == 3) section.os = s;
      if (code == 4) section.userappl = s;
    });
    if (st != ReadStatus::kOk) return st;
    sections_.push_back(section);
    section_ifaces_.clear();
    pos_ = start + total;
    return ReadStatus::kOk;
  }

  template <typename Fn>
  ReadStatus for_each_option(const Bytes& opts, size_t block_start, Fn fn) {
    size_t off = 0;
    while (off + 4 <= opts.n) {
      const uint16_t code = opts.u16(off), len = opts.u16(off + 2);
      if (code == 0) return ReadStatus::kOk;
      if (off + 4 + len > opts.n) {
        return fail(block_start, "option " + std::to_string(code) + " of length " + std::to_string(len) +
                                     " runs past the end of its block");
      }
      fn(code, opts.p + off + 4, len);
      off += 4 + ((len + 3u) & ~3u);
    }
    return ReadStatus::kOk;
  }

  // Options re-encoded in host byte order (code, length), values verbatim, padded to 4.
  static void keep_option(std::vector<uint8_t>& into, uint16_t code, const uint8_t* v, uint16_t len) {
    const size_t at = into.size();
    into.resize(at + 4 + ((len + 3u) & ~3u), 0);
    std::memcpy(into.data() + at, &code, 2);
    std::memcpy(into.data() + at + 2, &len, 2);
    std::memcpy(into.data() + at + 4, v, len);
  }

  ReadStatus interface_block(const Bytes& body, size_t start) {
    if (body.n < 8) return fail(start, "interface description block is too short");
    InterfaceInfo info;
    Iface ifc;
    info.linktype = body.u16(0);
    info.snaplen = body.u32(4);
    ifc.snaplen = info.snaplen;
    Bytes opts{body.p + 8, body.n - 8, swap_};
    const ReadStatus st = for_each_option(opts, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
      switch (code) {
        case 2: info.name.assign(reinterpret_cast<const char*>(v), len); break;
        case 3: info.description.assign(reinterpret_cast<const char*>(v), len); break;
        case 9: if (len >= 1) ifc.tsresol = v[0]; break;
        case 14:
          if (len == 8) {
            Bytes o{v, 8, swap_};
            ifc.tsoffset = static_cast<int64_t>(o.u64(0));
          }
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

  ReadStatus packet(Batch& out, size_t start, uint32_t iface_id, uint64_t ts_units, uint32_t caplen,
                    uint32_t origlen, const uint8_t* data, const Bytes* opts) {
    if (iface_id >= section_ifaces_.size()) {
      return fail(start, "packet refers to interface " + std::to_string(iface_id) + ", which its section does not define");
    }
    const Iface& ifc = section_ifaces_[iface_id];
    uint64_t ts = to_ns(ts_units, ifc.tsresol) + static_cast<uint64_t>(ifc.tsoffset) * 1000000000ull;
    opt_scratch_.clear();
    if (opts != nullptr) {
      const ReadStatus st = for_each_option(*opts, start, [&](uint16_t code, const uint8_t* v, uint16_t len) {
        keep_option(opt_scratch_, code, v, len);
      });
      if (st != ReadStatus::kOk) return st;
    }
    out.append(data, caplen, origlen, ts, ifc.global, opt_scratch_.data(), static_cast<uint32_t>(opt_scratch_.size()));
    return ReadStatus::kOk;
  }

  // EPB (type 6) and the obsolete Packet Block (type 2) share a layout; the PB has a 16-bit
  // interface id followed by a 16-bit drops count.
  ReadStatus enhanced_packet(const Bytes& body, size_t start, Batch& out, bool obsolete) {
    if (body.n < 20) return fail(start, "packet block is too short");
    const uint32_t iface = obsolete ? body.u16(0) : body.u32(0);
    const uint64_t ts = (static_cast<uint64_t>(body.u32(4)) << 32) | body.u32(8);
    const uint32_t caplen = body.u32(12), origlen = body.u32(16);
    if (caplen > body.n - 20) {
      return fail(start, "captured length " + std::to_string(caplen) + " runs past the end of its block");
    }
    const size_t padded = (static_cast<size_t>(caplen) + 3) & ~size_t{3};
    Bytes opts{body.p + 20 + padded, padded <= body.n - 20 ? body.n - 20 - padded : 0, swap_};
    return packet(out, start, iface, ts, caplen, origlen, body.p + 20, &opts);
  }

  ReadStatus simple_packet(const Bytes& body, size_t start, Batch& out) {
    if (body.n < 4) return fail(start, "simple packet block is too short");
    if (section_ifaces_.empty()) return fail(start, "simple packet block before any interface");
    const uint32_t origlen = body.u32(0);
    uint32_t caplen = origlen;
    const uint32_t snap = section_ifaces_[0].snaplen;
    if (snap != 0 && caplen > snap) caplen = snap;
    if (caplen > body.n - 4) caplen = static_cast<uint32_t>(body.n - 4);
    return packet(out, start, 0, 0, caplen, origlen, body.p + 4, nullptr);
  }

  bool swap_ = false;
  std::vector<Iface> section_ifaces_;
  std::vector<uint8_t> opt_scratch_;
};

std::unique_ptr<FileReader> make_reader(std::unique_ptr<Source> src, const std::string& name) {
  if (src->size() < 4) {
    throw CaptureError(src->size() == 0 ? ErrorKind::kInputFile : ErrorKind::kCorruptFile,
                       name + (src->size() == 0 ? ": empty file, not a pcap or pcapng file" : ": truncated header"));
  }
  uint32_t magic;
  std::memcpy(&magic, src->data(), 4);
  switch (magic) {
    case 0x0a0d0d0a:
      return std::make_unique<PcapngReader>(std::move(src), name);
    case 0xa1b2c3d4: case 0xd4c3b2a1: case 0xa1b23c4d: case 0x4d3cb2a1: case 0xa1b2cd34: case 0x34cdb2a1:
      if (src->size() < 24) throw CaptureError(ErrorKind::kCorruptFile, name + ": truncated header");
      return std::make_unique<PcapReader>(std::move(src), name);
    default:
      throw CaptureError(ErrorKind::kInputFile, name + ": not a pcap or pcapng file (unknown magic " + hex32(magic) + ")");
  }
}

}  // namespace

std::unique_ptr<FileReader> FileReader::open(const std::string& path) {
  auto src = std::make_unique<Source>();
  src->map_file(path);
  return make_reader(std::move(src), path);
}

std::unique_ptr<FileReader> FileReader::from_memory(const uint8_t* data, size_t len, const std::string& name) {
  auto src = std::make_unique<Source>();
  src->use_memory(data, len);
  return make_reader(std::move(src), name);
}

}  // namespace podspan
