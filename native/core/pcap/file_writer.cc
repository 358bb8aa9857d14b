#include "pcap/file_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <stdio.h>  // renameat2
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <utility>

#include "common/errors.h"
#include "pcap/direct_file.h"
#include "pcap/iovec_skip.h"

namespace podspan {
namespace {

constexpr uint32_t kPcapMagicUs = 0xa1b2c3d4;
constexpr uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr uint32_t kShb = 0x0a0d0d0a, kIdb = 1, kEpb = 6, kIsb = 5;
constexpr uint32_t kByteOrderMagic = 0x1a2b3c4d;

constexpr uint16_t kOptEnd = 0, kOptComment = 1;
constexpr uint16_t kShbHardware = 2, kShbOs = 3, kShbUserappl = 4;
constexpr uint16_t kIfName = 2, kIfDescription = 3, kIfTsresol = 9;
constexpr uint16_t kIsbStart = 2, kIsbEnd = 3, kIsbIfrecv = 4, kIsbIfdrop = 5, kIsbFilteraccept = 6,
                   kIsbOsdrop = 7, kIsbUsrdeliv = 8;

inline size_t pad4(size_t n) { return (n + 3) & ~size_t{3}; }

std::string utc_stamp(uint64_t ts_ns) {
  const time_t secs = static_cast<time_t>(ts_ns / 1000000000ull);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

// `name` with `suffix` before its extension (the last dot of the file name, not of a folder).
std::string with_suffix(const std::string& name, const std::string& suffix) {
  const auto slash = name.rfind('/');
  const auto dot = name.rfind('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return has_ext ? name.substr(0, dot) + suffix + name.substr(dot) : name + suffix;
}

// strftime of `pattern` at `ts_ns` in local time; the pattern itself when that gives nothing.
std::string local_time_name(const std::string& pattern, uint64_t ts_ns) {
  const time_t secs = static_cast<time_t>(ts_ns / 1000000000ull);
  struct tm tm;
  localtime_r(&secs, &tm);
  std::string buf(pattern.size() * 4 + 256, '\0');
  const size_t n = strftime(&buf[0], buf.size(), pattern.c_str(), &tm);
  if (n == 0) return pattern;
  buf.resize(n);
  return buf;
}

uint64_t wall_clock_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Appends little-endian/host-order pieces of a pcapng block into a small scratch buffer.
struct BlockBuilder {
  std::vector<uint8_t> b;
  void u16(uint16_t v) { raw(&v, 2); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void pad() { b.resize(pad4(b.size()), 0); }
  void option(uint16_t code, const void* value, size_t len) {
    u16(code);
    u16(static_cast<uint16_t>(len));
    raw(value, len);
    pad();
  }
  void option_str(uint16_t code, const std::string& s) {
    if (!s.empty()) option(code, s.data(), std::min<size_t>(s.size(), 0xfff0));
  }
  void option_u64(uint16_t code, uint64_t v) { option(code, &v, 8); }
  void option_ts(uint16_t code, uint64_t ts) {
    const uint32_t parts[2] = {static_cast<uint32_t>(ts >> 32), static_cast<uint32_t>(ts)};
    option(code, parts, 8);
  }
  void end_options() {
    u16(kOptEnd);
    u16(0);
  }
  // Wraps the body in type / total length / ... / total length.
  std::vector<uint8_t> finish(uint32_t type) {
    const uint32_t total = static_cast<uint32_t>(b.size() + 12);
    // Appended, not memcpy'd into a sized vector: GCC 12 saw overflows there that cannot happen.
    const auto* type_bytes = reinterpret_cast<const uint8_t*>(&type);
    const auto* total_bytes = reinterpret_cast<const uint8_t*>(&total);
    std::vector<uint8_t> out;
    out.reserve(b.size() + 12);
    out.insert(out.end(), type_bytes, type_bytes + 4);
    out.insert(out.end(), total_bytes, total_bytes + 4);
    out.insert(out.end(), b.begin(), b.end());
    out.insert(out.end(), total_bytes, total_bytes + 4);
    return out;
  }
};

// Paths open for writing in this process: two writers on one file would interleave their
// blocks into a damaged capture, so the second is refused.
std::mutex open_paths_mu;
std::set<std::string>& open_paths() {
  static auto* paths = new std::set<std::string>();
  return *paths;
}

bool claim_path(const std::string& path) {
  std::lock_guard<std::mutex> lk(open_paths_mu);
  return open_paths().insert(path).second;
}

void release_path(const std::string& path) {
  std::lock_guard<std::mutex> lk(open_paths_mu);
  open_paths().erase(path);
}

constexpr uint32_t kNotInFile = ~uint32_t{0};

}  // namespace

FileFormat format_from_path(const std::string& path) {
  const auto dot = path.rfind('.');
  if (dot != std::string::npos) {
    std::string ext = path.substr(dot);
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".pcapng") return FileFormat::kPcapng;
  }
  return FileFormat::kPcap;
}

struct CaptureWriter::Impl {
  WriterOptions opt;
  std::vector<InterfaceInfo> interfaces;
  std::vector<uint8_t> buf;
  size_t used = 0;
  // Referenced packets (write_referenced): the parts of the next drain in file order, pieces of
  // `buf` between packets held where they are; buf[seg_start, used) is not in `iov` yet.
  std::vector<iovec> iov;
  size_t seg_start = 0;
  int fd = -1;
  std::unique_ptr<DirectFile> direct;  // direct_io: the current file's O_DIRECT side, if it takes one
  std::string current;          // path of the open file
  uint64_t file_bytes = 0;      // bytes in the current file (written + buffered)
  uint64_t file_packets = 0;
  uint64_t file_first_ts = 0;
  uint64_t file_opened_ns = 0;  // the writer's clock when the current file was opened
  uint32_t sequence = 0;
  std::deque<std::string> files;
  // Closed by rotation, not yet taken (take_rotated_files, from another thread).
  std::mutex rotated_mu;
  std::vector<std::string> rotated;
  uint64_t packets = 0, bytes = 0;
  bool closed = false;
  bool header_written = false;  // pcap file header / pcapng SHB of the current file
  size_t idbs_written = 0;      // pcapng: IDBs in the current file
  // pcapng ISB times per interface in the current file
  std::vector<uint64_t> first_ts, last_ts;
  // interfaces_on_first_use: each interface's id in the current file (kNotInFile before its first
  // packet there), and the interfaces of the file in id order.
  std::vector<uint32_t> file_id;
  std::vector<uint32_t> file_ifaces;
  // The current file's state at the end of a block: `boundary` after the last block appended,
  // `committed` after the last block known written. A failed write (disk full) cuts the file
  // back to `committed`, so it stays a valid capture, and writing can go on from there.
  struct Checkpoint {
    uint64_t file_bytes = 0;
    bool header_written = false;
    size_t idbs_written = 0;
    size_t file_ifaces = 0;
  };
  Checkpoint boundary, committed;
  // Writing direct: the boundary at each drain since the last sync, oldest first, the oldest kept
  // the newest one the direct side has written. A failed chunk cuts the file back to it.
  std::deque<Checkpoint> drained;

  bool pcapng() const { return opt.format == FileFormat::kPcapng; }

  // PATH_NNNNN_STAMP.EXT (dumpcap's naming), or with strftime_names the pattern's expansion.
  std::string name_for(uint64_t start_ns) const {
    if (!opt.rotation.enabled()) return opt.path;
    char seq[16];
    std::snprintf(seq, sizeof seq, "%05u", sequence);
    if (opt.strftime_names) {
      const std::string name = local_time_name(opt.path, start_ns);
      // Numbered where two files could share a name (truncated, the earlier would be lost).
      if (opt.rotation.max_bytes == 0 && !earlier_names.count(name)) return name;
      return with_suffix(name, std::string("_") + seq);
    }
    return with_suffix(opt.path, std::string("_") + seq + "_" + utc_stamp(start_ns));
  }

  // Names of this writer's files before the current one (strftime_names: a repeat is numbered).
  std::set<std::string> earlier_names;

  void fail(const std::string& what, int err) {
    throw CaptureError(ErrorKind::kOutput, current + ": " + what + ": " + std::strerror(err));
  }

  void open_file(uint64_t start_ns) {
    if (sequence != 0 && opt.strftime_names) earlier_names.insert(current);
    ++sequence;
    current = name_for(start_ns);
    // "-": standard output (tcpdump -w -), through a duplicate so closing it leaves fd 1 alone.
    if (current == "-") {
      fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) fail("cannot create", errno);
    } else {
      if (!claim_path(current)) {
        throw CaptureError(ErrorKind::kOutput, current + ": already open for writing in this process");
      }
      fd = ::open(current.c_str(), O_WRONLY | O_CREAT | (opt.exclusive ? O_EXCL : O_TRUNC) | O_CLOEXEC, 0644);
      if (fd < 0) {
        const int err = errno;
        release_path(current);
        fail(err == EEXIST ? "exists already (not overwritten)" : "cannot create", err);
      }
    }
    if (opt.direct_io && current != "-") {
      struct stat st;
      if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        direct = DirectFile::open(current, opt.buffer_bytes, opt.direct_max_chunk);
      }
    }
    files.push_back(current);
    file_bytes = 0;
    file_packets = 0;
    file_first_ts = 0;
    file_opened_ns = wall_clock_ns();
    header_written = false;
    idbs_written = 0;
    first_ts.assign(interfaces.size(), 0);
    last_ts.assign(interfaces.size(), 0);
    file_id.assign(interfaces.size(), kNotInFile);
    file_ifaces.clear();
    boundary = committed = Checkpoint{};
    drained.clear();
    if (opt.rotation.max_files != 0) {
      while (files.size() > opt.rotation.max_files) {
        ::unlink(files.front().c_str());
        files.pop_front();
      }
    }
    write_headers();
  }

  // Rotating by packet time, a file is named by its first packet's time, as every later file is
  // when it opens: the first was opened before any packet, under the clock's time (reading a
  // capture of last week with -r, the first file's name said today). A name already taken keeps
  // the file where it is: renamed over, another file would be lost.
  void name_by_first_packet(uint64_t ts_ns) {
    if (!opt.rotation.enabled() || opt.rotation.seconds_by_wall_clock || current == "-") return;
    const std::string wanted = name_for(ts_ns);
    if (wanted == current || !claim_path(wanted)) return;
    if (::renameat2(AT_FDCWD, current.c_str(), AT_FDCWD, wanted.c_str(), RENAME_NOREPLACE) != 0) {
      release_path(wanted);
      return;
    }
    release_path(current);
    files.back() = wanted;
    current = wanted;
  }

  void mark() { boundary = Checkpoint{file_bytes, header_written, idbs_written, file_ifaces.size()}; }

  // After a failed write: the file (on disk and in the buffer) ends at the last block written;
  // interfaces whose IDB was cut off are written again before their next packet.
  void roll_back() {
    // The rest of this file goes through the page cache: what its direct side still held is gone.
    if (direct) {
      direct->settle();
      const uint64_t durable = direct->durable();
      direct.reset();
      for (const Checkpoint& c : drained) {
        if (c.file_bytes <= durable && c.file_bytes > committed.file_bytes) committed = c;
      }
      drained.clear();
    }
    // (A pipe cannot be cut back: ftruncate fails there and the reader sees the partial block.)
    if (::ftruncate(fd, static_cast<off_t>(committed.file_bytes)) == 0) {
      ::lseek(fd, static_cast<off_t>(committed.file_bytes), SEEK_SET);
    }
    bytes -= file_bytes - committed.file_bytes;
    file_bytes = committed.file_bytes;
    header_written = committed.header_written;
    idbs_written = committed.idbs_written;
    for (size_t k = committed.file_ifaces; k < file_ifaces.size(); ++k) file_id[file_ifaces[k]] = kNotInFile;
    file_ifaces.resize(committed.file_ifaces);
    boundary = committed;
    used = 0;
    iov.clear();
    seg_start = 0;
  }

  // Hands what is buffered (and referenced) to the kernel: one write, or one writev per IOV_MAX
  // parts; writing direct, a copy into the direct side's chunk (written when full or synced).
  void drain() {
    if (used > seg_start) iov.push_back(iovec{buf.data() + seg_start, used - seg_start});
    if (direct) {
      if (const int err = direct->append(iov.data(), iov.size())) {
        roll_back();
        fail("write failed", err);
      }
      iov.clear();
      seg_start = 0;
      used = 0;
      if (drained.empty() || drained.back().file_bytes != boundary.file_bytes) drained.push_back(boundary);
      const uint64_t durable = direct->durable();
      while (drained.size() > 1 && drained[1].file_bytes <= durable) drained.pop_front();
      return;  // committed moves at the next sync(), or to a drained boundary on a failure
    }
    size_t first = 0;
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
      const ssize_t n = count == 1 ? ::write(fd, iov[first].iov_base, iov[first].iov_len) : ::writev(fd, iov.data() + first, count);
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          // Standard output shared with Node is non-blocking: wait for the reader, as tcpdump would.
          pollfd p{fd, POLLOUT, 0};
          ::poll(&p, 1, -1);
          continue;
        }
        roll_back();
        fail("write failed", err);
      }
      skip_written(iov, first, static_cast<size_t>(n));
    }
    iov.clear();
    seg_start = 0;
    used = 0;
    committed = boundary;
  }

  // A packet's bytes, not copied: a part of the next drain (the buffer's bytes before it too).
  void append_referenced(const uint8_t* p, size_t n) {
    if (iov.size() + 3 > IOV_MAX) drain();  // room for this, the buffer before it, and the tail
    if (used > seg_start) iov.push_back(iovec{buf.data() + seg_start, used - seg_start});
    seg_start = used;
    iov.push_back(iovec{const_cast<uint8_t*>(p), n});
    file_bytes += n;
    bytes += n;
  }

  void append(const void* p, size_t n) {
    if (n == 0) return;
    if (used + n > buf.size()) {
      drain();
      if (n > buf.size()) buf.resize(n);
    }
    std::memcpy(buf.data() + used, p, n);
    used += n;
    file_bytes += n;
    bytes += n;
  }

  // pcap: the header names one link type, so it waits for the first interface unless forced
  // (a file closed with no interface still gets a valid header).
  void write_headers(bool force = false) {
    if (header_written) return;
    if (!pcapng() && interfaces.empty() && !force) return;
    header_written = true;
    if (!pcapng()) {
      uint32_t snaplen = 0;
      for (const auto& i : interfaces) snaplen = std::max(snaplen, i.snaplen);
      if (snaplen == 0) snaplen = 262144;
      const uint32_t linktype = interfaces.empty() ? uint32_t{kLinktypeEthernet} : interfaces[0].linktype;
      uint8_t h[24];
      const uint32_t magic = opt.format == FileFormat::kPcapNs ? kPcapMagicNs : kPcapMagicUs;
      const uint16_t major = 2, minor = 4;
      const uint32_t zero = 0;
      std::memcpy(h, &magic, 4);
      std::memcpy(h + 4, &major, 2);
      std::memcpy(h + 6, &minor, 2);
      std::memcpy(h + 8, &zero, 4);
      std::memcpy(h + 12, &zero, 4);
      std::memcpy(h + 16, &snaplen, 4);
      std::memcpy(h + 20, &linktype, 4);
      append(h, sizeof h);
      mark();
      return;
    }
    BlockBuilder shb;
    shb.u32(kByteOrderMagic);
    shb.u16(1);
    shb.u16(0);
    shb.u64(~uint64_t{0});  // section length not given
    for (const auto& c : opt.section.comments) shb.option_str(kOptComment, c);
    shb.option_str(kShbHardware, opt.section.hardware);
    shb.option_str(kShbOs, opt.section.os);
    shb.option_str(kShbUserappl, opt.section.userappl.empty() ? "podspan" : opt.section.userappl);
    shb.end_options();
    auto block = shb.finish(kShb);
    append(block.data(), block.size());
    mark();
    write_missing_idbs();
  }

  void write_idb(const InterfaceInfo& i) {
    BlockBuilder idb;
    idb.u16(i.linktype);
    idb.u16(0);
    idb.u32(i.snaplen);
    idb.option_str(kIfName, i.name);
    idb.option_str(kIfDescription, i.description);
    const uint8_t nanoseconds = 9;
    idb.option(kIfTsresol, &nanoseconds, 1);
    idb.raw(i.extra_options.data(), i.extra_options.size());
    idb.pad();
    idb.end_options();
    auto block = idb.finish(kIdb);
    append(block.data(), block.size());
  }

  void write_missing_idbs() {
    if (!pcapng() || opt.interfaces_on_first_use) return;
    while (idbs_written < interfaces.size()) {
      write_idb(interfaces[idbs_written]);
      ++idbs_written;
      mark();
    }
  }

  // The id of interface `iface` in the current file, its IDB written first if it has none yet.
  uint32_t id_in_file(uint32_t iface) {
    if (!opt.interfaces_on_first_use) return iface;
    if (iface >= interfaces.size()) {
      throw CaptureError(ErrorKind::kInternal, current + ": packet of undeclared interface " + std::to_string(iface));
    }
    if (file_id[iface] == kNotInFile) {
      write_idb(interfaces[iface]);
      file_id[iface] = static_cast<uint32_t>(file_ifaces.size());
      file_ifaces.push_back(iface);
      mark();
    }
    return file_id[iface];
  }

  void write_isbs() {
    if (!pcapng()) return;
    const bool own_ids = opt.interfaces_on_first_use;
    const size_t count = own_ids ? file_ifaces.size() : interfaces.size();
    for (uint32_t id = 0; id < count; ++id) {
      const uint32_t i = own_ids ? file_ifaces[id] : id;
      InterfaceStats s;
      if (opt.stats_for_interface) s = opt.stats_for_interface(i);
      const uint64_t ts = last_ts[i] ? last_ts[i] : wall_clock_ns();
      BlockBuilder isb;
      isb.u32(id);
      isb.u32(static_cast<uint32_t>(ts >> 32));
      isb.u32(static_cast<uint32_t>(ts));
      if (first_ts[i]) {
        isb.option_ts(kIsbStart, first_ts[i]);
        isb.option_ts(kIsbEnd, last_ts[i]);
      }
      if (opt.stats_for_interface) {
        isb.option_u64(kIsbIfrecv, s.received);
        isb.option_u64(kIsbIfdrop, s.dropped_iface);
        isb.option_u64(kIsbFilteraccept, s.received);
        isb.option_u64(kIsbOsdrop, s.dropped_kernel);
        isb.option_u64(kIsbUsrdeliv, s.captured);
        // Losses after capture (a full queue to JS, or between agent and collector) have no ISB
        // field of their own: say them in the block's comment.
        if (s.dropped_queue != 0) {
          isb.option_str(1, std::to_string(s.dropped_queue) + " packets captured but dropped before this file (queue full or collector link lost)");
        }
      }
      isb.end_options();
      auto block = isb.finish(kIsb);
      append(block.data(), block.size());
      mark();
    }
  }

  // Everything drained on disk (writing direct: the chunks written, the rest through the page cache).
  void sync() {
    drain();
    if (!direct) return;
    if (const int err = direct->sync(fd)) {
      roll_back();
      fail("write failed", err);
    }
    committed = boundary;
    drained.clear();
  }

  // Closes the descriptor and gives the path back even when the last writes fail (disk full).
  void close_file() {
    if (fd < 0) return;
    try {
      write_headers(true);
      write_isbs();
      sync();
    } catch (...) {
      direct.reset();
      ::close(fd);
      fd = -1;
      release_path(current);
      throw;
    }
    direct.reset();
    const int f = fd;
    fd = -1;
    release_path(current);
    if (::close(f) != 0) fail("close failed", errno);
  }

  // The bytes a record adds to the current file, with the IDB it brings along if its interface
  // is not in the file yet (interfaces_on_first_use).
  size_t record_size(const PacketRecord& r) const {
    if (!pcapng()) return 16 + r.caplen;
    size_t n = 32 + pad4(r.caplen) + (r.optlen ? pad4(r.optlen) + 4 : 0);
    if (opt.interfaces_on_first_use && r.iface < file_id.size() && file_id[r.iface] == kNotInFile) {
      const InterfaceInfo& i = interfaces[r.iface];
      auto option = [](size_t len) { return len ? 4 + pad4(std::min<size_t>(len, 0xfff0)) : 0; };
      n += 12 + 8 + option(i.name.size()) + option(i.description.size()) + 8 + pad4(i.extra_options.size()) + 4;
    }
    return n;
  }

  // interfaces_on_first_use: the ISBs the file will end with once `r` is in it, counted against
  // -C so that a file of many interfaces stays within it (a drop comment may add a little).
  size_t isb_reserve(const PacketRecord& r) const {
    if (!pcapng() || !opt.interfaces_on_first_use) return 0;
    const bool new_iface = r.iface < file_id.size() && file_id[r.iface] == kNotInFile;
    const size_t isb = 12 + 12 + 24 + (opt.stats_for_interface ? 5 * 12 : 0) + 4;  // head, start/end, counters, end
    return (file_ifaces.size() + (new_iface ? 1 : 0)) * isb;
  }

  // The current file's size, closed, once `r` is in it.
  uint64_t size_with(const PacketRecord& r) const { return file_bytes + record_size(r) + isb_reserve(r); }

  void maybe_rotate(const PacketRecord& r) {
    if (!opt.rotation.enabled() || file_packets == 0) return;
    bool rotate = false;
    if (opt.rotation.max_bytes && size_with(r) > opt.rotation.max_bytes) rotate = true;
    const bool by_clock = opt.rotation.seconds_by_wall_clock;
    const uint64_t now = by_clock ? wall_clock_ns() : r.ts_ns;
    const uint64_t start = by_clock ? file_opened_ns : file_first_ts;
    if (opt.rotation.seconds && now >= start + static_cast<uint64_t>(opt.rotation.seconds) * 1000000000ull) {
      rotate = true;
    }
    if (!rotate) return;
    close_file();
    if (opt.list_rotated) {
      std::lock_guard<std::mutex> lk(rotated_mu);
      rotated.push_back(current);
    }
    open_file(now);
  }

  // The packet's bytes: copied into the buffer, or (`referenced`, large enough) left in place.
  void append_packet(const uint8_t* data, uint32_t len, bool referenced) {
    if (referenced && len >= kReferencedMinBytes) append_referenced(data, len);
    else append(data, len);
  }

  void write(const PacketRecord& r, const uint8_t* data, bool referenced = false) {
    if (closed) throw CaptureError(ErrorKind::kInternal, current + ": write after close");
    maybe_rotate(r);
    write_headers(true);
    write_missing_idbs();  // IDBs cut off by a failed write are written again
    if (file_packets == 0) {
      file_first_ts = r.ts_ns;
      name_by_first_packet(r.ts_ns);
    }
    ++file_packets;
    ++packets;
    if (!pcapng()) {
      uint32_t h[4];
      if (opt.format == FileFormat::kPcapNs) {
        h[0] = static_cast<uint32_t>(r.ts_ns / 1000000000ull);
        h[1] = static_cast<uint32_t>(r.ts_ns % 1000000000ull);
      } else {
        h[0] = static_cast<uint32_t>(r.ts_ns / 1000000000ull);
        h[1] = static_cast<uint32_t>((r.ts_ns % 1000000000ull) / 1000u);
      }
      h[2] = r.caplen;
      h[3] = r.origlen;
      append(h, sizeof h);
      append_packet(data, r.caplen, referenced);
      mark();
      return;
    }
    const uint32_t id = id_in_file(r.iface);
    if (r.iface < first_ts.size()) {
      if (first_ts[r.iface] == 0) first_ts[r.iface] = r.ts_ns;
      last_ts[r.iface] = r.ts_ns;
    }
    const uint32_t opt_bytes = r.optlen ? static_cast<uint32_t>(pad4(r.optlen) + 4) : 0;
    const uint32_t total = static_cast<uint32_t>(32 + pad4(r.caplen) + opt_bytes);
    uint32_t h[7] = {kEpb, total, id, static_cast<uint32_t>(r.ts_ns >> 32),
                     static_cast<uint32_t>(r.ts_ns), r.caplen, r.origlen};
    const bool copied = !referenced || r.caplen < kReferencedMinBytes;
    if (copied && !r.optlen && used + total <= buf.size()) {
      // The common block whole in the buffer: one bounds check, no call per piece.
      uint8_t* out = buf.data() + used;
      std::memcpy(out, h, sizeof h);
      if (r.caplen) std::memcpy(out + sizeof h, data, r.caplen);  // an empty packet may come without bytes (nullptr)
      std::memset(out + sizeof h + r.caplen, 0, pad4(r.caplen) - r.caplen);
      std::memcpy(out + total - 4, &total, 4);
      used += total;
      file_bytes += total;
      bytes += total;
      mark();
      return;
    }
    append(h, sizeof h);
    append_packet(data, r.caplen, referenced);
    static const uint8_t zeros[8] = {0};
    append(zeros, pad4(r.caplen) - r.caplen);
    if (r.optlen) {
      append(data + r.caplen, r.optlen);
      append(zeros, pad4(r.optlen) - r.optlen + 4);  // padding, then opt_endofopt
    }
    append(&total, 4);
    mark();
  }
};

CaptureWriter::CaptureWriter(WriterOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->buf.resize(std::max<size_t>(impl_->opt.buffer_bytes, 64 * 1024));
  impl_->current = impl_->opt.path;
  impl_->open_file(wall_clock_ns());
}

CaptureWriter::~CaptureWriter() {
  try {
    close();
  } catch (...) {
  }
}

void CaptureWriter::add_interface(const InterfaceInfo& info) {
  Impl& m = *impl_;
  if (m.opt.format != FileFormat::kPcapng && !m.interfaces.empty() &&
      m.interfaces[0].linktype != info.linktype) {
    throw CaptureError(ErrorKind::kUsage,
                       m.opt.path + ": pcap holds one link type, but interface " + info.name + " is " +
                           std::to_string(info.linktype) + " and " + m.interfaces[0].name + " is " +
                           std::to_string(m.interfaces[0].linktype) + "; write .pcapng instead");
  }
  m.interfaces.push_back(info);
  m.first_ts.push_back(0);
  m.last_ts.push_back(0);
  m.file_id.push_back(kNotInFile);
  if (m.pcapng()) {
    m.write_missing_idbs();
  } else {
    m.write_headers();
  }
}

size_t CaptureWriter::interface_count() const { return impl_->interfaces.size(); }

void CaptureWriter::write(const PacketRecord& rec, const uint8_t* packet_bytes) {
  impl_->write(rec, packet_bytes);
}

void CaptureWriter::write_referenced(const PacketRecord& rec, const uint8_t* packet_bytes) {
  impl_->write(rec, packet_bytes, true);
}

void CaptureWriter::release_referenced() {
  if (!impl_->iov.empty()) impl_->drain();
}

void CaptureWriter::write_batch(const Batch& batch) {
  for (const PacketRecord& r : batch.records) write(r, batch.bytes(r));
}

void CaptureWriter::flush() {
  if (impl_->fd >= 0) impl_->sync();
}

void CaptureWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  m.close_file();
}

uint64_t CaptureWriter::file_bytes_with(const PacketRecord& rec) const {
  return impl_->size_with(rec);
}

bool CaptureWriter::writing_direct() const { return impl_->direct != nullptr; }
uint64_t CaptureWriter::packets_written() const { return impl_->packets; }
uint64_t CaptureWriter::bytes_written() const { return impl_->bytes; }
std::vector<std::string> CaptureWriter::files() const {
  return std::vector<std::string>(impl_->files.begin(), impl_->files.end());
}

std::vector<std::string> CaptureWriter::take_rotated_files() {
  std::lock_guard<std::mutex> lk(impl_->rotated_mu);
  return std::exchange(impl_->rotated, {});
}

}  // namespace podspan
