#include "pcap/async_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/errors.h"
#include "common/heap_cost.h"
#include "pcap/iovec_skip.h"

namespace podspan {

void Piece::copy(const uint8_t* p, uint32_t n) {
  if (n == 0) return;
  if (!parts.empty() && parts.back().ptr == nullptr) {
    parts.back().len += n;
  } else {
    parts.push_back(Part{nullptr, n});
  }
  owned.insert(owned.end(), p, p + n);
  size += n;
}

void Piece::lend(const uint8_t* p, uint32_t n) {
  if (n == 0) return;
  if (!parts.empty() && parts.back().ptr != nullptr && parts.back().ptr + parts.back().len == p) {
    parts.back().len += n;
  } else {
    parts.push_back(Part{p, n});
  }
  size += n;
}

void Piece::shrink() {
  if (parts.capacity() > 2 * parts.size()) parts.shrink_to_fit();
  if (owned.capacity() > 2 * owned.size()) owned.shrink_to_fit();
}

size_t AsyncFiles::task_cost(size_t path_len, const Piece& piece) {
  // A std::string keeps up to 15 characters inline.
  return sizeof(Task) + (path_len > 15 ? malloc_block(path_len + 1) : 0) + piece.cost();
}

AsyncFiles::AsyncFiles(size_t max_open_files, size_t max_bytes_in_flight)
    : max_open_files_(max_open_files < 1 ? 1 : max_open_files), max_in_flight_(max_bytes_in_flight) {
  thread_ = std::thread([this] { run(); });
}

AsyncFiles::~AsyncFiles() {
  try {
    finish();
  } catch (...) {
  }
}

void AsyncFiles::throw_if_failed() {
  if (!failed_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lk(mu_);
  throw CaptureError(ErrorKind::kOutput, error_);
}

uint64_t AsyncFiles::push(Task&& t, size_t held) {
  throw_if_failed();
  t.cost = task_cost(t.path.size(), t.piece) + held;
  const size_t cost = t.cost;
  bool wake;
  uint64_t ticket;
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (abandoned_.load() && t.op != Op::kClose) {  // given up before it was queued
      skip_locked(t);
      return 0;
    }
    // A task larger than the whole budget still goes through, alone.
    if (in_flight_ != 0 && in_flight_ + cost > max_in_flight_) {
      producer_waiting_ = true;
      has_room_.wait(lk, [&] {
        return in_flight_ == 0 || in_flight_ + cost <= max_in_flight_ || failed_.load() || abandoned_.load();
      });
      producer_waiting_ = false;
    }
    in_flight_ += cost;
    if (in_flight_ > peak_in_flight_.load(std::memory_order_relaxed)) peak_in_flight_.store(in_flight_, std::memory_order_relaxed);
    ticket = t.ticket = ++pushed_;
    queue_.push_back(std::move(t));
    wake = writer_idle_;  // a busy writer takes the whole queue next time round: no wake-up needed
    writer_idle_ = false;
  }
  if (wake) has_work_.notify_one();
  return ticket;
}

void AsyncFiles::create(uint64_t key, std::string path) { push(Task{Op::kCreate, key, 0, std::move(path), {}}); }

uint64_t AsyncFiles::write(uint64_t key, uint64_t offset, Piece&& piece) {
  piece.shrink();
  return push(Task{Op::kWrite, key, offset, {}, std::move(piece)});
}

uint64_t AsyncFiles::close(uint64_t key, uint64_t length, size_t held) {
  return push(Task{Op::kClose, key, length, {}, {}}, held);
}

void AsyncFiles::abandon() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    abandoned_ = true;
  }
  has_room_.notify_all();
}

Unwritten AsyncFiles::unwritten(uint64_t key) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = unwritten_.find(key);
  if (it == unwritten_.end()) return Unwritten{};
  const Unwritten u = it->second;
  unwritten_.erase(it);
  return u;
}

// Records what an abandoned create or write leaves out (mu_ held).
void AsyncFiles::skip_locked(const Task& t) {
  if (t.op == Op::kCreate) unwritten_[t.key].created = false;
  if (t.op == Op::kWrite) unwritten_[t.key].bytes += t.piece.size;
}

// An abandoned task: creates and writes are recorded as lost; a close still closes the file,
// setting its length only when nothing of it was lost (else zeros would stand for lost bytes).
void AsyncFiles::skip(Task& t) {
  bool lost;
  {
    std::lock_guard<std::mutex> lk(mu_);
    skip_locked(t);
    lost = unwritten_.count(t.key) != 0;
  }
  if (t.op != Op::kClose) return;
  if (!lost) return perform(t);
  auto it = files_.find(t.key);
  if (it == files_.end()) return;
  if (it->second.fd >= 0) {
    ::close(it->second.fd);
    --open_files_;
  }
  files_.erase(it);
}

void AsyncFiles::finish() {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(Task{Op::kStop, 0, 0, {}, {}});
    writer_idle_ = false;
  }
  has_work_.notify_one();
  thread_.join();
  throw_if_failed();
}

void AsyncFiles::run() {
  std::deque<Task> work;
  bool stop = false;
  while (!stop) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      while (queue_.empty()) {
        writer_idle_ = true;
        has_work_.wait(lk);
      }
      work.swap(queue_);  // everything queued so far, in one go
    }
    for (Task& t : work) {
      if (t.op == Op::kStop) {
        stop = true;
        break;
      }
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          if (abandoned_.load(std::memory_order_relaxed)) {
            skip(t);
          } else {
            perform(t);
          }
        } catch (const CaptureError& e) {
          std::lock_guard<std::mutex> lk(mu_);
          error_ = e.what();
          failed_ = true;
        }
      }
      // Room is given back task by task: returned only after the whole batch, the producer
      // waited for all of it and then the writer waited for the producer (measured ~19% idle).
      bool wake;
      {
        std::lock_guard<std::mutex> lk(mu_);
        in_flight_ -= t.cost;
        wake = producer_waiting_ && in_flight_ <= max_in_flight_ - max_in_flight_ / 4;  // not per task
      }
      done_.store(t.ticket, std::memory_order_release);
      if (wake) has_room_.notify_one();
      t.piece = Piece();  // its memory goes back now, not with the whole batch
    }
    work.clear();
  }
  for (auto& kv : files_)
    if (kv.second.fd >= 0) ::close(kv.second.fd);
  files_.clear();
}

namespace {
[[noreturn]] void fail(const char* what, const std::string& path, int err) {
  throw CaptureError(ErrorKind::kOutput, path + ": " + what + ": " + std::strerror(err));
}
}  // namespace

// One pwritev per up to IOV_MAX parts, resuming after short writes.
void AsyncFiles::write_piece(int fd, const File& f, uint64_t offset, const Piece& piece) {
  std::vector<iovec>& iov = iov_;
  iov.clear();
  const uint8_t* owned = piece.owned.data();
  for (const Piece::Part& p : piece.parts) {
    const uint8_t* base = p.ptr ? p.ptr : owned;
    if (!p.ptr) owned += p.len;
    iov.push_back(iovec{const_cast<uint8_t*>(base), p.len});
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::pwritev(fd, iov.data() + first, count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", f.path, errno);
    }
    offset += static_cast<uint64_t>(n);
    skip_written(iov, first, static_cast<size_t>(n));
  }
}

int AsyncFiles::fd_for(uint64_t key, File& f) {
  if (f.fd >= 0) return f.fd;
  while (open_files_ >= max_open_files_ && !open_order_.empty()) {
    const uint64_t victim = open_order_.front();
    open_order_.pop_front();
    auto it = files_.find(victim);
    if (it == files_.end() || it->second.fd < 0) continue;  // closed since
    ::close(it->second.fd);
    it->second.fd = -1;
    --open_files_;
  }
  f.fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (f.opened ? 0 : O_TRUNC), 0644);
  if (f.fd < 0) fail("cannot create", f.path, errno);
  f.opened = true;
  ++open_files_;
  open_order_.push_back(key);
  return f.fd;
}

void AsyncFiles::perform(Task& t) {
  if (t.op == Op::kCreate) {
    File& f = files_[t.key];
    f.path = std::move(t.path);
    fd_for(t.key, f);
    return;
  }
  auto it = files_.find(t.key);
  if (it == files_.end()) return;
  File& f = it->second;
  const int fd = fd_for(t.key, f);
  if (t.op == Op::kWrite) {
    write_piece(fd, f, t.value, t.piece);
    if (t.value + t.piece.size > f.end) f.end = t.value + t.piece.size;
    return;
  }
  // kClose: holes (gaps) read as zeros; only a gap at the end needs the length set explicitly
  // (a syscall per file saved: thousands of streams close at once).
  if (t.value != f.end && ::ftruncate(fd, static_cast<off_t>(t.value)) != 0) fail("cannot set length", f.path, errno);
  ::close(fd);
  --open_files_;
  files_.erase(it);
  // Entries of open_order_ for closed files are skipped when they come up; keep them bounded.
  if (open_order_.size() > 2 * files_.size() + 1024) {
    std::deque<uint64_t> live;
    std::unordered_map<uint64_t, bool> seen;
    for (auto k = open_order_.rbegin(); k != open_order_.rend(); ++k) {  // the latest entry of each open file
      auto f2 = files_.find(*k);
      if (f2 != files_.end() && f2->second.fd >= 0 && seen.emplace(*k, true).second) live.push_front(*k);
    }
    open_order_.swap(live);
  }
}

}  // namespace podspan
