#include "pcap/direct_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace podspan {
namespace {

// 0 or the errno of the write that stopped it. A short write is followed by another, which
// says why the file system stopped (a full disk: ENOSPC).
int write_all(int fd, const uint8_t* p, size_t len, uint64_t offset) {
  while (len > 0) {
    const ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return 0;
}

}  // namespace

void DirectFile::ChunkFree::operator()(uint8_t* p) const { std::free(p); }

// The process's one writing thread: chunks of every direct file in the order handed over (one
// device queue, as Arkime's writer thread). Never destroyed: a thread joined by a static
// destructor could outlive what it writes for at exit.
class DirectWriteThread {
 public:
  static DirectWriteThread& get() {
    static auto* t = new DirectWriteThread();
    return *t;
  }

  void submit(DirectFile* file, DirectFile::Chunk chunk, size_t len, uint64_t offset) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++file->pending_;
      in_flight_bytes_ += chunk.capacity;
      jobs_.push_back(Job{file, std::move(chunk), len, offset});
    }
    work_.notify_one();
  }

  // Until `file` may hand over one more chunk of `bytes`: fewer than kInFlight of its own in
  // flight, and all files' together within kInFlightBytes (unless it has none in flight).
  int wait_for_room(DirectFile* file, size_t bytes, std::vector<DirectFile::Chunk>& into) {
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] {
      return file->error_ != 0 || (file->pending_ < kInFlight && (file->pending_ == 0 || in_flight_bytes_ + bytes <= kInFlightBytes));
    });
    return take_returned(file, into);
  }

  // Until `file` has at most `pending` chunks in flight; takes back its written chunks.
  int wait(DirectFile* file, size_t pending, std::vector<DirectFile::Chunk>& into) {
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return file->pending_ <= pending; });
    return take_returned(file, into);
  }

  // A file's chunks in flight, and the bytes of all files': the device's queue may absorb a
  // slow moment (a virtual disk's latency comes and goes) without holding a writer, and the
  // memory it takes stays bounded however many files are busy.
  static constexpr size_t kInFlight = 6;
  static constexpr size_t kInFlightBytes = 64u << 20;

 private:
  struct Job {
    DirectFile* file;
    DirectFile::Chunk chunk;
    size_t len;
    uint64_t offset;
  };

  DirectWriteThread() { std::thread([this] { run(); }).detach(); }

  int take_returned(DirectFile* file, std::vector<DirectFile::Chunk>& into) {
    for (auto& c : file->returned_) into.push_back(std::move(c));
    file->returned_.clear();
    return file->error_;
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      work_.wait(lk, [&] { return !jobs_.empty(); });
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      const bool skip = job.file->error_ != 0;  // nothing of a file after a chunk it lost
      const int fd = job.file->fd_;
      lk.unlock();
      const int err = skip ? 0 : write_all(fd, job.chunk.bytes.get(), job.len, job.offset);
      lk.lock();
      if (err && !job.file->error_) job.file->error_ = err;
      // One thread writes a file's chunks in order: the first failure ends what is durable.
      if (!err && !skip && !job.file->error_) job.file->durable_.store(job.offset + job.len, std::memory_order_release);
      in_flight_bytes_ -= job.chunk.capacity;
      job.file->returned_.push_back(std::move(job.chunk));
      --job.file->pending_;
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, done_;
  std::deque<Job> jobs_;
  size_t in_flight_bytes_ = 0;
};

namespace {

size_t aligned_size(size_t n) {
  return std::max(DirectFile::kAlign, (n + DirectFile::kAlign - 1) & ~(DirectFile::kAlign - 1));
}

constexpr size_t kSpareChunks = 2;  // kept by a file for its next chunks

}  // namespace

std::unique_ptr<DirectFile> DirectFile::open(const std::string& path, size_t min_chunk, size_t max_chunk) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0 || fs.f_type == TMPFS_MAGIC) {
    ::close(fd);
    return nullptr;
  }
  // Some file systems take the flag and refuse the writes: one block written and cut away tells.
  void* probe = std::aligned_alloc(kAlign, kAlign);
  bool takes_it = false;
  if (probe) {
    std::memset(probe, 0, kAlign);
    takes_it = ::pwrite(fd, probe, kAlign, 0) == static_cast<ssize_t>(kAlign) && ::ftruncate(fd, 0) == 0;
    std::free(probe);
  }
  if (!takes_it) {
    ::close(fd);
    return nullptr;
  }
  min_chunk = aligned_size(min_chunk);
  return std::unique_ptr<DirectFile>(new DirectFile(fd, min_chunk, std::max(min_chunk, aligned_size(max_chunk))));
}

DirectFile::DirectFile(int fd, size_t min_chunk, size_t max_chunk)
    : fd_(fd), min_chunk_(min_chunk), max_chunk_(max_chunk), capacity_(min_chunk) {
  chunk_ = take_chunk(capacity_);
}

DirectFile::~DirectFile() {
  wait(0);
  ::close(fd_);
}

DirectFile::Chunk DirectFile::take_chunk(size_t capacity) {
  while (!spare_.empty()) {
    Chunk c = std::move(spare_.back());
    spare_.pop_back();
    if (c.capacity == capacity) return c;
  }
  void* p = std::aligned_alloc(kAlign, capacity);
  if (!p) throw std::bad_alloc();
  return Chunk{std::unique_ptr<uint8_t, ChunkFree>(static_cast<uint8_t*>(p)), capacity};
}

int DirectFile::wait(size_t at_most_pending) { return keep_spares(DirectWriteThread::get().wait(this, at_most_pending, returned_scratch_)); }

int DirectFile::wait_for_room() { return keep_spares(DirectWriteThread::get().wait_for_room(this, capacity_, returned_scratch_)); }

int DirectFile::keep_spares(int err) {
  // Chunks of another size than the one filled now (grown or shrunk since) are let go.
  for (auto& c : returned_scratch_) {
    if (c.capacity == capacity_ && spare_.size() < kSpareChunks) spare_.push_back(std::move(c));
  }
  returned_scratch_.clear();
  return err;
}

void DirectFile::hand_over() {
  // A file that fills chunks keeps growing them (fewer, larger writes); spare chunks of the old
  // size no longer fit and go.
  const size_t next = filled_since_sync_ > 0 ? std::min(capacity_ * 2, max_chunk_) : capacity_;
  ++filled_since_sync_;
  DirectWriteThread::get().submit(this, std::move(chunk_), fill_, chunk_offset_);
  chunk_offset_ += fill_;
  fill_ = 0;
  capacity_ = next;
  chunk_ = take_chunk(capacity_);
}

int DirectFile::append(const iovec* parts, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const auto* p = static_cast<const uint8_t*>(parts[i].iov_base);
    size_t n = parts[i].iov_len;
    while (n > 0) {
      const size_t take = std::min(n, capacity_ - fill_);
      std::memcpy(chunk_.bytes.get() + fill_, p, take);
      fill_ += take;
      p += take;
      n -= take;
      if (fill_ == capacity_) {
        // Too far ahead of the device: wait for it, as a write into a full page cache would.
        if (const int err = wait_for_room()) return err;
        hand_over();
      }
    }
  }
  return 0;
}

int DirectFile::sync(int buffered_fd) {
  if (const int err = wait(0)) return err;
  const size_t whole = fill_ & ~(kAlign - 1);
  if (whole > 0) {
    // Written here, not by the thread: the caller waits for it anyway.
    if (const int err = write_all(fd_, chunk_.bytes.get(), whole, chunk_offset_)) return err;
    std::memmove(chunk_.bytes.get(), chunk_.bytes.get() + whole, fill_ - whole);
    chunk_offset_ += whole;
    fill_ -= whole;
  }
  // The rest through the page cache; the next direct write of this block replaces it (the kernel
  // writes the cached page back and drops it first).
  if (const int err = write_all(buffered_fd, chunk_.bytes.get(), fill_, chunk_offset_)) return err;
  durable_.store(appended(), std::memory_order_release);
  // A file that filled no chunk since the last sync is idle: back to the small chunk.
  if (filled_since_sync_ == 0 && capacity_ != min_chunk_) {
    Chunk small = take_chunk(min_chunk_);
    std::memcpy(small.bytes.get(), chunk_.bytes.get(), fill_);
    chunk_ = std::move(small);
    capacity_ = min_chunk_;
    spare_.clear();
  }
  filled_since_sync_ = 0;
  return 0;
}

}  // namespace podspan
