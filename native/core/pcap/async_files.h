// Writes pieces of many files on a thread of its own, so a capture thread that reassembles
// thousands of streams never waits in the kernel: it hands over (file, offset, bytes) and goes
// on. Keeps a bounded cache of open descriptors (least recently opened closed first, reopened
// on demand) and a bounded cost in flight (the producer waits when it is reached): every task
// counts what it holds (its queue slot, path, parts and copied bytes, and lent bytes, which keep
// the input's mapping behind the reader), so a million creates and closes are bounded like a
// million bytes. abandon() gives up what is still queued, recording per file what was lost.
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
  // What it holds: its heap blocks and the input it keeps mapped (lent bytes).
  size_t cost() const { return parts.capacity() * sizeof(Part) + owned.capacity() + (size - owned.size()); }
  // Gives back spare capacity (reserved for a full piece) before a short piece waits in a queue.
  void shrink();
};

// What abandon() left unwritten of one file.
struct Unwritten {
  uint64_t bytes = 0;    // payload of pieces not written
  bool created = true;   // false: the file was never created
};

class AsyncFiles {
 public:
  AsyncFiles(size_t max_open_files, size_t max_bytes_in_flight);
  ~AsyncFiles();  // finishes, ignoring errors
  AsyncFiles(const AsyncFiles&) = delete;
  AsyncFiles& operator=(const AsyncFiles&) = delete;

  // Producer side (one thread). `key` names a file until close(key); create() makes it empty.
  void create(uint64_t key, std::string path);
  uint64_t write(uint64_t key, uint64_t offset, Piece&& piece);  // a ticket, as close()'s
  // Sets the file's length (a gap at the end reads as zeros) and closes it. Returns a ticket:
  // once done() reaches it, the file is closed and unwritten(key) says what it lacks. `held`:
  // memory the producer keeps until then (counted in flight with the close).
  uint64_t close(uint64_t key, uint64_t length, size_t held = 0);
  // Waits for every piece to be written and every file closed; throws the first error.
  void finish();

  // Any thread: from now on queued and later creates and writes are skipped (the producer no
  // longer waits for room), files are closed as they are, without setting their length over
  // what was lost; what each file lacks is kept for unwritten().
  void abandon();
  uint64_t done() const { return done_.load(std::memory_order_acquire); }
  // What file `key` lacks (after its close ticket is done); forgets it.
  Unwritten unwritten(uint64_t key);
  size_t peak_in_flight() const { return peak_in_flight_.load(std::memory_order_relaxed); }
  static size_t task_cost(size_t path_len, const Piece& piece);

 private:
  enum class Op : uint8_t { kCreate, kWrite, kClose, kStop };
  struct Task {
    Op op;
    uint64_t key;
    uint64_t value;  // offset (write) or length (close)
    std::string path;
    Piece piece;
    size_t cost = 0;  // task_cost, counted in flight until performed
    uint64_t ticket = 0;
  };
  struct File {
    std::string path;
    int fd = -1;
    bool opened = false;  // opened once: reopening must not truncate
    uint64_t end = 0;     // the file's length so far (it starts empty)
  };

  uint64_t push(Task&& t, size_t held = 0);
  void run();
  void perform(Task& t);
  void skip(Task& t);  // abandoned
  void skip_locked(const Task& t);
  int fd_for(uint64_t key, File& f);
  void write_piece(int fd, const File& f, uint64_t offset, const Piece& piece);
  void throw_if_failed();

  const size_t max_open_files_, max_in_flight_;
  std::mutex mu_;
  std::condition_variable has_work_, has_room_;
  std::deque<Task> queue_;
  size_t in_flight_ = 0;
  std::atomic<size_t> peak_in_flight_{0};
  uint64_t pushed_ = 0;            // tickets given
  std::atomic<uint64_t> done_{0};  // tickets performed (or skipped), in order
  std::atomic<bool> abandoned_{false};
  std::unordered_map<uint64_t, Unwritten> unwritten_;  // guarded by mu_
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
