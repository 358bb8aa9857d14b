// Writes pieces of many files on a thread of its own, so a capture thread that reassembles
// thousands of streams never waits in the kernel: it hands over (file, offset, bytes) and goes
// on. Keeps a bounded cache of open descriptors (least recently opened closed first, reopened
// on demand) and a bounded number of bytes in flight (the producer waits when it is reached).
// The first error (a full disk, a folder removed) is kept, later pieces are discarded, and the
// producer's next call or finish() throws it as CaptureError(kOutput) naming the file.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace podspan {

// The bytes of one write, in file order: spans of memory that outlive the write (a memory-mapped
// input file: payload is written from where it lies, never copied) and bytes copied into
// `owned` (everything else). Adjacent parts of either kind merge.
struct Piece {
  struct Part {
    const uint8_t* ptr;  // nullptr: the next `len` bytes of owned
    uint32_t len;
  };
  std::vector<Part> parts;
  std::vector<uint8_t> owned;
  size_t size = 0;

  bool empty() const { return size == 0; }
  void copy(const uint8_t* p, uint32_t n);
  void lend(const uint8_t* p, uint32_t n);  // p must stay valid until the piece is written
};

class AsyncFiles {
 public:
  AsyncFiles(size_t max_open_files, size_t max_bytes_in_flight);
  ~AsyncFiles();  // finishes, ignoring errors
  AsyncFiles(const AsyncFiles&) = delete;
  AsyncFiles& operator=(const AsyncFiles&) = delete;

  // Producer side (one thread). `key` names a file until close(key); create() makes it empty.
  void create(uint64_t key, std::string path);
  void write(uint64_t key, uint64_t offset, Piece&& piece);
  // Sets the file's length (a gap at the end reads as zeros) and closes it.
  void close(uint64_t key, uint64_t length);
  // Waits for every piece to be written and every file closed; throws the first error.
  void finish();

 private:
  enum class Op : uint8_t { kCreate, kWrite, kClose, kStop };
  struct Task {
    Op op;
    uint64_t key;
    uint64_t value;  // offset (write) or length (close)
    std::string path;
    Piece piece;
  };
  struct File {
    std::string path;
    int fd = -1;
    bool opened = false;  // opened once: reopening must not truncate
    uint64_t end = 0;     // the file's length so far (it starts empty)
  };

  void push(Task&& t);
  void run();
  void perform(Task& t);
  int fd_for(uint64_t key, File& f);
  void write_piece(int fd, const File& f, uint64_t offset, const Piece& piece);
  void throw_if_failed();

  const size_t max_open_files_, max_in_flight_;
  std::mutex mu_;
  std::condition_variable has_work_, has_room_;
  std::deque<Task> queue_;
  size_t in_flight_ = 0;
  bool writer_idle_ = false;       // the writer sleeps on has_work_
  bool producer_waiting_ = false;  // the producer sleeps on has_room_
  std::string error_;
  std::atomic<bool> failed_{false};
  bool finished_ = false;

  // Owned by the writer thread.
  std::vector<struct iovec> iov_;
  std::unordered_map<uint64_t, File> files_;
  std::deque<uint64_t> open_order_;
  size_t open_files_ = 0;

  std::thread thread_;
};

}  // namespace podspan
