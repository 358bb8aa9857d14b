#include "detection/evidence.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "pcap/file_writer.h"

namespace podspan {
namespace {

constexpr uint16_t kOptComment = 1;
constexpr size_t kMaxOptionValue = 0xfff0;  // as the writer caps SHB comments
constexpr size_t kWriterBufferBytes = 256 * 1024;
constexpr uint32_t kMaxNameTries = 100;  // name, name-2, ... name-100

bool file_safe(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string base_name(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const auto slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

template <typename Fn>
void EvidenceRecorder::keep_open_if(Fn&& still_open) {
  for (size_t i = 0; i < open_.size();) {
    if (still_open(open_[i])) {
      ++i;
    } else {
      open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

EvidenceRecorder::EvidenceRecorder(EvidenceOptions options)
    : opt_(std::move(options)), ring_(opt_.ring_bytes, opt_.pre_trigger_ns) {
  open_.reserve(std::min<uint32_t>(opt_.max_open, 64));
}

EvidenceRecorder::~EvidenceRecorder() { finish(); }

void EvidenceRecorder::add_interface(const InterfaceInfo& info) {
  interfaces_.push_back(info);
  for (auto& r : open_) r.writer->add_interface(info);  // pcapng: nothing written before its first packet
}

void EvidenceRecorder::record(const PacketRecord& rec, const uint8_t* bytes) {
  if (rec.iface >= interfaces_.size()) {
    ++undeclared_;
    return;
  }
  keep_open_if([&](Recording& r) { return append(r, rec, bytes); });
  ring_.push(rec, bytes);
}

std::string EvidenceRecorder::trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) {
  if (open_.size() >= opt_.max_open || files_ >= opt_.max_files) {
    ++refused_;
    return "";
  }
  std::string relative;
  try {
    std::error_code ec;
    if (!file_safe(name) || opt_.dir.empty() || (std::filesystem::create_directories(opt_.dir, ec), ec)) {
      ++failed_;
      return "";
    }
    std::string stem;
    Recording r;
    r.writer = create_file(name, comment, stem);
    r.comment = comment;
    r.alert_ts = alert_ts;
    r.end_ts = saturating_add(alert_ts, opt_.post_trigger_ns);
    relative = base_name(opt_.dir) + "/" + stem + ".pcapng";
    ++files_;
    open_.push_back(std::move(r));
  } catch (...) {  // no file could be made: CaptureError naming it; never out of here
    ++failed_;
    return "";
  }
  const uint64_t start = alert_ts > opt_.pre_trigger_ns ? alert_ts - opt_.pre_trigger_ns : 0;
  bool still_open = true;
  ring_.for_each([&](const PacketRecord& rec, const uint8_t* bytes) {
    if (rec.ts_ns < start) return true;
    still_open = append(open_.back(), rec, bytes);
    return still_open;
  });
  // The packets from before the alert on disk now, not when the buffer fills.
  if (!still_open || !flush(open_.back())) open_.pop_back();
  return relative;
}

std::unique_ptr<CaptureWriter> EvidenceRecorder::create_file(const std::string& name, const std::string& comment,
                                                             std::string& stem) {
  WriterOptions w;
  w.format = FileFormat::kPcapng;
  w.exclusive = true;
  w.interfaces_on_first_use = true;
  w.buffer_bytes = kWriterBufferBytes;
  w.section = opt_.section;
  if (!comment.empty()) w.section.comments.insert(w.section.comments.begin(), comment);
  for (uint32_t k = 1;; ++k) {
    stem = k == 1 ? name : name + "-" + std::to_string(k);
    w.path = opt_.dir + "/" + stem + ".pcapng";
    std::unique_ptr<CaptureWriter> writer;
    try {
      writer = std::make_unique<CaptureWriter>(w);
    } catch (...) {
      struct stat st;
      if (k < kMaxNameTries && ::stat(w.path.c_str(), &st) == 0) continue;  // taken: the next name
      throw;
    }
    for (const auto& i : interfaces_) writer->add_interface(i);
    // The section header on disk now: a write failing later cuts the file back to a valid one.
    try {
      writer->flush();
    } catch (...) {  // not even that fits: the empty file we made goes
      writer.reset();
      ::unlink(w.path.c_str());
      throw;
    }
    return writer;
  }
}

bool EvidenceRecorder::append(Recording& r, const PacketRecord& rec, const uint8_t* bytes) {
  if (rec.ts_ns > r.end_ts) {
    close(r, End::kDone);
    return false;
  }
  PacketRecord out = rec;
  out.offset = 0;
  const uint8_t* data = bytes;
  if (!r.commented && rec.ts_ns >= r.alert_ts) {
    r.commented = true;
    if (!r.comment.empty()) data = with_comment(r, rec, bytes, out);
  }
  if (r.writer->file_bytes_with(out) > opt_.max_file_bytes) {
    close(r, End::kTruncated);
    return false;
  }
  try {
    r.writer->write(out, data);
  } catch (...) {  // disk full: the writer cut the file back to its last whole block
    close(r, End::kWriteError);
    return false;
  }
  ++packets_written_;
  return true;
}

const uint8_t* EvidenceRecorder::with_comment(const Recording& r, const PacketRecord& rec, const uint8_t* bytes,
                                              PacketRecord& out) {
  const uint16_t len = static_cast<uint16_t>(std::min(r.comment.size(), kMaxOptionValue));
  const size_t option = 4 + ((size_t{len} + 3) & ~size_t{3});
  if (rec.optlen > UINT32_MAX - option) return bytes;  // no room in the record's length: left uncommented
  // Once per recording: the only place a recording may allocate after it opened.
  if (scratch_.size() < rec.caplen + option + rec.optlen) scratch_.resize(rec.caplen + option + rec.optlen);
  uint8_t* p = scratch_.data();
  if (rec.caplen) std::memcpy(p, bytes, rec.caplen);
  p += rec.caplen;
  std::memcpy(p, &kOptComment, 2);
  std::memcpy(p + 2, &len, 2);
  std::memcpy(p + 4, r.comment.data(), len);
  std::memset(p + 4 + len, 0, option - 4 - len);
  if (rec.optlen) std::memcpy(p + option, bytes + rec.caplen, rec.optlen);  // the frame's own options after ours
  out.optlen = static_cast<uint32_t>(option + rec.optlen);
  return scratch_.data();
}

void EvidenceRecorder::close(Recording& r, End how) {
  bool failed = how == End::kWriteError;
  try {
    r.writer->close();
  } catch (...) {
    failed = true;
  }
  closed_bytes_ += r.writer->bytes_written();
  if (failed) ++write_errors_;
  if (how == End::kTruncated) ++truncated_;
  r.writer.reset();
}

bool EvidenceRecorder::flush(Recording& r) {
  try {
    r.writer->flush();
    return true;
  } catch (...) {
    close(r, End::kWriteError);
    return false;
  }
}

void EvidenceRecorder::flush() {
  keep_open_if([&](Recording& r) { return flush(r); });
}

void EvidenceRecorder::advance_idle(uint64_t now) {
  keep_open_if([&](Recording& r) {
    if (r.end_ts >= now) return flush(r);
    close(r, End::kDone);
    return false;
  });
}

void EvidenceRecorder::finish() {
  for (auto& r : open_) close(r, End::kDone);
  open_.clear();
}

EvidenceStats EvidenceRecorder::stats() const {
  EvidenceStats s;
  s.ring_packets = ring_.packets();
  s.ring_bytes = ring_.bytes_used();
  s.ring_overwritten = ring_.overwritten();
  s.ring_span_ns = ring_.span_ns();
  s.ring_too_big = ring_.too_big();
  s.files = files_;
  s.refused = refused_;
  s.failed = failed_;
  s.packets_written = packets_written_;
  s.bytes_written = closed_bytes_;
  for (const auto& r : open_) s.bytes_written += r.writer->bytes_written();
  s.truncated_files = truncated_;
  s.write_errors = write_errors_;
  s.undeclared = undeclared_;
  s.open = open_.size();
  return s;
}

}  // namespace podspan
