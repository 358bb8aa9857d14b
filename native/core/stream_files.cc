#include "stream_files.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "errors.h"

namespace podspan {
namespace {

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
  const std::string index = opt_.dir + "/index.jsonl";
  index_fd_ = ::open(index.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (index_fd_ < 0) fail("cannot create", index, errno);
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

void StreamFiles::finish() {
  if (finished_) return;
  finished_ = true;
  pipeline_.finish();
  if (!index_buf_.empty() && ::write(index_fd_, index_buf_.data(), index_buf_.size()) < 0) {
    fail("write failed", opt_.dir + "/index.jsonl", errno);
  }
  ::close(index_fd_);
  publish_stats();
}

void StreamFiles::publish_stats() {
  static_cast<TcpPipelineStats&>(stats_) = pipeline_.stats();
  stats_.files = files_;
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
  const int n = name_uses_[base]++;
  return n == 0 ? base : base + "c" + std::to_string(n);
}

void StreamFiles::on_open(const StreamInfo& info) {
  Stream& s = streams_[info.id];
  s.info = info;
}

int StreamFiles::fd_for(uint64_t id, int dir, Side& side) {
  if (side.fd >= 0) return side.fd;
  if (side.file.empty()) {
    side.file = name_for(streams_[id].info, dir);
    ++files_;
  }
  while (open_files_ >= opt_.max_open_files && !open_order_.empty()) {
    const auto victim = open_order_.front();
    open_order_.pop_front();
    auto it = streams_.find(victim.first);
    if (it == streams_.end() || it->second.side[victim.second].fd < 0) continue;
    ::close(it->second.side[victim.second].fd);
    it->second.side[victim.second].fd = -1;
    --open_files_;
  }
  const std::string path = opt_.dir + "/" + side.file;
  side.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (side.fd < 0) fail("cannot create", path, errno);
  ++open_files_;
  open_order_.emplace_back(id, dir);
  return side.fd;
}

void StreamFiles::on_data(uint64_t id, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  Side& side = streams_[id].side[dir];
  const int fd = fd_for(id, dir, side);
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pwrite(fd, data + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", opt_.dir + "/" + side.file, errno);
    }
    done += static_cast<size_t>(n);
  }
  side.bytes += len;
  side.length = offset + len;
  if (side.first_ts == 0) side.first_ts = ts;
  side.last_ts = ts;
}

void StreamFiles::on_gap(uint64_t id, int dir, uint64_t offset, uint64_t len) {
  Side& side = streams_[id].side[dir];
  fd_for(id, dir, side);  // a file of only gaps still exists, holding zeros
  ++side.gaps;
  side.missing += len;
  side.length = offset + len;
}

void StreamFiles::on_close(uint64_t id, CloseReason reason, uint64_t) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  for (Side& side : s.side) {
    if (side.file.empty()) continue;
    const int fd = fd_for(id, static_cast<int>(&side - s.side), side);
    // Holes (gaps) read as zeros; a gap at the end needs the length set explicitly.
    if (::ftruncate(fd, static_cast<off_t>(side.length)) != 0) fail("cannot set length", opt_.dir + "/" + side.file, errno);
    ::close(fd);
    side.fd = -1;
    --open_files_;
  }
  write_index(s, reason);
  streams_.erase(it);
}

void StreamFiles::write_index(const Stream& s, CloseReason reason) {
  for (int dir = 0; dir < 2; ++dir) {
    const Side& side = s.side[dir];
    if (side.file.empty()) continue;
    const Endpoint& src = s.info.side[dir];
    const Endpoint& dst = s.info.side[1 - dir];
    index_buf_ += "{\"src\":" + json_string(address_text(src.addr, s.info.ip_version)) +
                  ",\"sport\":" + std::to_string(src.port) +
                  ",\"dst\":" + json_string(address_text(dst.addr, s.info.ip_version)) +
                  ",\"dport\":" + std::to_string(dst.port) + ",\"vlan\":" + std::to_string(s.info.vlan) +
                  ",\"stream\":" + std::to_string(s.info.id) + ",\"file\":" + json_string(side.file) +
                  ",\"bytes\":" + std::to_string(side.bytes) + ",\"gaps\":" + std::to_string(side.gaps) +
                  ",\"missing_bytes\":" + std::to_string(side.missing) +
                  ",\"first_ts\":" + json_string(iso_time(side.first_ts ? side.first_ts : s.info.first_ts)) +
                  ",\"last_ts\":" + json_string(iso_time(side.last_ts ? side.last_ts : s.info.first_ts)) +
                  ",\"close_reason\":" + json_string(close_reason_name(reason)) + "}\n";
  }
  if (index_buf_.size() >= (64u << 10)) {
    if (::write(index_fd_, index_buf_.data(), index_buf_.size()) < 0) fail("write failed", opt_.dir + "/index.jsonl", errno);
    index_buf_.clear();
  }
}

}  // namespace podspan
