#include "reassembly/stream_files.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/errors.h"

namespace podspan {
namespace {

// A piece lent from the input is written with one pwritev per IOV_MAX parts; tiny segments
// should not make that many calls.
constexpr size_t kMaxPartsPerPiece = 256;
// Copied payload starts a piece in this much room (see on_data).
constexpr size_t kFirstOwned = 4096;

std::string address_text(const uint8_t* a, uint8_t ip_version) {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf);
  return buf;
}

// tcpflow's form: IPv4 octets zero-padded to three digits, ports to five.
std::string flow_name_part(const Endpoint& e, uint8_t ip_version) {
  char buf[80];
  if (ip_version == 4) {
    std::snprintf(buf, sizeof buf, "%03u.%03u.%03u.%03u.%05u", e.addr[0], e.addr[1], e.addr[2], e.addr[3], e.port);
  } else {
    std::snprintf(buf, sizeof buf, "%s.%05u", address_text(e.addr, 6).c_str(), e.port);
  }
  return buf;
}

std::string iso_time(uint64_t ns) {
  const time_t secs = static_cast<time_t>(ns / 1000000000ull);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09lluZ", static_cast<unsigned long long>(ns % 1000000000ull));
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

}  // namespace

StreamFiles::StreamFiles(StreamFilesOptions options)
    : opt_(std::move(options)), pipeline_(opt_.reassembly, opt_.defrag, *this) {
  // mkdir -p: create each missing component.
  for (size_t slash = opt_.dir.find('/', 1);; slash = opt_.dir.find('/', slash + 1)) {
    const std::string part = opt_.dir.substr(0, slash);
    if (!part.empty() && ::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create directory", part, errno);
    if (slash == std::string::npos) break;
  }
  size_t max_open = opt_.max_open_files;
  if (max_open == 0) {
    struct rlimit lim;
    const rlim_t soft = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 1024;
    max_open = std::max<size_t>(16, std::min<size_t>(8192, static_cast<size_t>(soft / 2)));
  }
  const std::string index = opt_.dir + "/index.jsonl";
  index_fd_ = ::open(index.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (index_fd_ < 0) fail("cannot create", index, errno);
  max_open_ = max_open;
  // Live capture copies its payload and writes at the interface's pace: one writer (an agent
  // runs a capture per pod). A file read by mapping gets more (input_is_stable()).
  start_writers(opt_.writer_threads ? opt_.writer_threads : 1, opt_.write_in_flight);
}

StreamFiles::~StreamFiles() {
  try {
    finish();
  } catch (...) {
  }
}

void StreamFiles::fail(const std::string& what, const std::string& path, int err) {
  throw CaptureError(ErrorKind::kOutput, path + ": " + what + ": " + std::strerror(err));
}

void StreamFiles::add_interface(const InterfaceInfo& info) { pipeline_.add_interface(info.linktype); }

void StreamFiles::consume(const PacketRecord& rec, const uint8_t* bytes) {
  pipeline_.add(rec, bytes);
  if ((++packets_ & 4095) == 0) publish_stats();
}

void StreamFiles::dispatched() {
  if (packets_ != published_packets_) publish_stats();
}

void StreamFiles::start_writers(size_t lanes, size_t in_flight) {
  std::lock_guard<std::mutex> lk(writers_mu_);
  writers_.clear();  // before the first file: nothing is queued yet
  for (size_t i = 0; i < lanes; ++i) {
    writers_.push_back(std::make_unique<AsyncFiles>(std::max<size_t>(1, max_open_ / lanes), in_flight / lanes));
    if (abandoned_) writers_.back()->abandon();
  }
}

void StreamFiles::abandon() {
  std::lock_guard<std::mutex> lk(writers_mu_);
  abandoned_ = true;
  for (auto& w : writers_) w->abandon();
}

void StreamFiles::input_is_stable(const uint8_t* begin, size_t len) {
  stable_.set(begin, len);
  pipeline_.input_is_stable(begin, len);
  // Payload lent from the file leaves the kernel's tmpfs/page-cache write as most of the work.
  if (opt_.writer_threads == 0 && files_ == 0) {
    start_writers(std::min<size_t>(4, std::max<unsigned>(1, std::thread::hardware_concurrency())), opt_.write_in_flight_lent);
  }
}

void StreamFiles::finish() {
  if (finished_) return;
  finished_ = true;
  pipeline_.finish();
  // Every piece written, every file closed; the first write error is thrown (after all finished).
  std::string error;
  for (auto& w : writers_) {
    try {
      w->finish();
    } catch (const CaptureError& e) {
      if (error.empty()) error = e.what();
    }
  }
  if (!error.empty()) throw CaptureError(ErrorKind::kOutput, error);
  write_confirmed_index(true);
  if (!index_buf_.empty() && ::write(index_fd_, index_buf_.data(), index_buf_.size()) < 0) {
    fail("write failed", opt_.dir + "/index.jsonl", errno);
  }
  ::close(index_fd_);
  publish_stats();
}

void StreamFiles::publish_stats() {
  published_packets_ = packets_;
  static_cast<TcpPipelineStats&>(stats_) = pipeline_.stats();
  stats_.files = files_;
  stats_.unwritten_files = unwritten_files_;
  stats_.unwritten_bytes = unwritten_bytes_;
  stats_.truncated_bytes = truncated_bytes_;
  std::lock_guard<std::mutex> lk(snap_mu_);
  snapshot_ = stats_;
}

StreamFilesStats StreamFiles::stats() const {
  std::lock_guard<std::mutex> lk(snap_mu_);
  return snapshot_;
}

std::string StreamFiles::name_for(const StreamInfo& info, int dir) {
  std::string base = flow_name_part(info.side[dir], info.ip_version) + "-" + flow_name_part(info.side[1 - dir], info.ip_version);
  if (info.vlan) base += "--" + std::to_string(info.vlan);
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a finaliser: the table probes by the low bits
  for (char c : base) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  uint32_t slot = name_uses_.find(h, h);
  if (slot == decltype(name_uses_)::kNone) slot = name_uses_.insert(h, h);
  const uint32_t n = name_uses_.value(slot)++;
  return n == 0 ? base : base + "c" + std::to_string(n);
}

void StreamFiles::on_open(const StreamInfo& info) {
  if (info.slot >= streams_.size()) streams_.resize(info.slot + 1);
  streams_[info.slot].info = info;
  ++open_streams_;
}

void StreamFiles::create(const StreamInfo& info, int dir, Side& side) {
  if (!side.file.empty()) return;
  side.file = name_for(info, dir);
  ++files_;
  const uint64_t key = file_key(info.id, dir);
  writer_for(key).create(key, opt_.dir + "/" + side.file);
}

void StreamFiles::on_data(const StreamInfo& info, int dir, uint64_t offset, const uint8_t* data, uint32_t whole, uint64_t ts) {
  Side& side = streams_[info.slot].side[dir];
  const auto len = static_cast<uint32_t>(kept_below(opt_.max_direction_bytes, offset, whole));
  side.truncated += whole - len;
  truncated_bytes_ += whole - len;
  if (len == 0) return;
  create(info, dir, side);  // names are given in the order directions first speak
  const size_t cost_before = side.pending.cost();
  if (side.pending.empty()) {
    side.pending_offset = offset;
    side.pending.parts.reserve(16);  // lent parts merge when adjacent: a typical piece has few
  }
  if (!side.queued) {
    side.queued = true;
    pending_order_.push_back(PendingRef{info.id, info.slot, dir});
    // Entries of closed streams wait in the queue until popped; drop them before they pile up.
    if (pending_order_.size() > 4 * open_streams_ + 1024) {
      std::deque<PendingRef> live;
      for (const PendingRef& e : pending_order_)
        if (streams_[e.slot].info.id == e.id) live.push_back(e);
      pending_order_.swap(live);
    }
  }
  // In-order payload of a mapped file is written from the mapping: the copy into the piece was
  // the capture thread's biggest cost. Out-of-order, defragmented and live payload is copied.
  if (stable_.holds(data, len)) {
    side.pending.lend(data, len);
  } else {
    // Room for a short piece first, doubling as it fills: 64 KiB reserved per direction made
    // 100,000 live flows with a few bytes each hold 6 GB that counted as a few hundred KB.
    if (side.pending.owned.capacity() == 0) side.pending.owned.reserve(std::min<size_t>(kFirstOwned, opt_.write_buffer_per_file));
    side.pending.copy(data, len);
  }
  pending_total_ += side.pending.cost() - cost_before;  // what it holds, not just its payload
  side.bytes += len;
  side.length = offset + len;
  if (side.first_ts == 0) side.first_ts = ts;
  side.last_ts = ts;
  if (side.pending.size >= opt_.write_buffer_per_file || side.pending.parts.size() >= kMaxPartsPerPiece) flush(info.id, dir, side);
  if (pending_total_ > opt_.write_buffer_total) flush_oldest_until(opt_.write_buffer_total - opt_.write_buffer_total / 16);  // smooth: a little at a time
}

void StreamFiles::flush(uint64_t id, int dir, Side& side) {
  if (side.pending.empty()) return;
  pending_total_ -= side.pending.cost();
  // The piece moves to the writer thread; the direction starts its next one in fresh memory.
  const uint64_t key = file_key(id, dir);
  writer_for(key).write(key, side.pending_offset, std::move(side.pending));
  side.pending = Piece();
}

void StreamFiles::flush_oldest_until(size_t limit) {
  while (pending_total_ > limit && !pending_order_.empty()) {
    const PendingRef oldest = pending_order_.front();
    pending_order_.pop_front();
    Stream& s = streams_[oldest.slot];
    if (s.info.id != oldest.id) continue;  // closed since (and flushed then)
    Side& side = s.side[oldest.dir];
    side.queued = false;
    flush(oldest.id, oldest.dir, side);
  }
}

void StreamFiles::on_gap(const StreamInfo& info, int dir, uint64_t offset, uint64_t whole) {
  const uint64_t len = kept_below(opt_.max_direction_bytes, offset, whole);  // beyond the limit: nothing to hold
  if (len == 0) return;
  Side& side = streams_[info.slot].side[dir];
  flush(info.id, dir, side);   // what follows the gap starts a new piece at its own offset
  create(info, dir, side);     // a file of only gaps still exists, holding zeros
  ++side.gaps;
  side.missing += len;
  side.length = offset + len;
}

void StreamFiles::on_close(const StreamInfo& info, CloseReason reason, uint64_t) {
  Stream& s = streams_[info.slot];
  uint64_t ticket[2] = {0, 0};
  for (Side& side : s.side) {
    if (side.file.empty()) continue;
    const int dir = static_cast<int>(&side - s.side);
    flush(info.id, dir, side);
    const uint64_t key = file_key(info.id, dir);
    // The index line waiting for this close is counted with it: a name and half a Closed.
    ticket[dir] = writer_for(key).close(key, side.length, sizeof(Closed) / 2 + side.file.capacity() + 1);
  }
  if (ticket[0] || ticket[1]) unconfirmed_.push_back(Closed{std::move(s), reason, {ticket[0], ticket[1]}});
  s = Stream();  // the slot is free for the reassembler's next stream
  --open_streams_;
  write_confirmed_index(false);
}

void StreamFiles::write_confirmed_index(bool all) {
  while (!unconfirmed_.empty()) {
    const Closed& c = unconfirmed_.front();
    if (!all) {
      bool closed = true;
      for (int dir = 0; dir < 2; ++dir) {
        if (c.stream.side[dir].file.empty()) continue;
        const uint64_t key = file_key(c.stream.info.id, dir);
        // A ticket of 0: the close was not queued (abandoned); nothing to wait for.
        if (writer_for(key).done() < c.ticket[dir]) closed = false;
      }
      if (!closed) return;
    }
    write_index(c);
    unconfirmed_.pop_front();
  }
}

void StreamFiles::write_index(const Closed& c) {
  const Stream& s = c.stream;
  const CloseReason reason = c.reason;
  for (int dir = 0; dir < 2; ++dir) {
    const Side& side = s.side[dir];
    if (side.file.empty()) continue;
    const uint64_t key = file_key(s.info.id, dir);
    const Unwritten lost = writer_for(key).unwritten(key);
    const bool written = lost.created && lost.bytes == 0;
    if (!written) {
      ++unwritten_files_;
      unwritten_bytes_ += lost.bytes;
    }
    const Endpoint& src = s.info.side[dir];
    const Endpoint& dst = s.info.side[1 - dir];
    index_buf_ += "{\"src\":" + json_string(address_text(src.addr, s.info.ip_version)) +
                  ",\"sport\":" + std::to_string(src.port) +
                  ",\"dst\":" + json_string(address_text(dst.addr, s.info.ip_version)) +
                  ",\"dport\":" + std::to_string(dst.port) + ",\"vlan\":" + std::to_string(s.info.vlan) +
                  ",\"stream\":" + std::to_string(s.info.id) + ",\"file\":" + json_string(side.file) +
                  ",\"bytes\":" + std::to_string(side.bytes - lost.bytes) + ",\"gaps\":" + std::to_string(side.gaps) +
                  ",\"missing_bytes\":" + std::to_string(side.missing) +
                  (side.truncated ? ",\"truncated_bytes\":" + std::to_string(side.truncated) : std::string()) +
                  ",\"first_ts\":" + json_string(iso_time(side.first_ts ? side.first_ts : s.info.first_ts)) +
                  ",\"last_ts\":" + json_string(iso_time(side.last_ts ? side.last_ts : s.info.first_ts)) +
                  ",\"close_reason\":" + json_string(close_reason_name(reason)) +
                  (written ? std::string() : ",\"written\":false,\"unwritten_bytes\":" + std::to_string(lost.bytes)) + "}\n";
  }
  if (index_buf_.size() >= (64u << 10)) {
    if (::write(index_fd_, index_buf_.data(), index_buf_.size()) < 0) fail("write failed", opt_.dir + "/index.jsonl", errno);
    index_buf_.clear();
  }
}

}  // namespace podspan
