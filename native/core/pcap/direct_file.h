// A capture file written around the page cache (O_DIRECT), as Arkime writes its pcap: bytes go
// from an aligned chunk of ours to the device. Through the page cache the kernel allocates a page
// per 4 KiB and copies the bytes into it on the writing thread; on a VM whose freed memory goes
// back to its host, each such page is also fetched from the host first. Here the copy is into a
// chunk kept warm, and one thread of the process writes full chunks, so a writer waits for the
// device only when it is six chunks ahead of it (or all files together 64 MiB).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace podspan {

class DirectFile {
 public:
  // Chunk sizes: a file starts with min_chunk and doubles up to max_chunk while it fills them
  // faster than sync() is called (a busy file), back to min_chunk when a sync finds it idle.
  static constexpr size_t kAlign = 4096;  // offsets, lengths and addresses of every O_DIRECT write

  // Opens `path`, an empty regular file just created, a second time with O_DIRECT. Null when its
  // file system does not take O_DIRECT (some FUSE mounts, tmpfs before Linux 6.6) or is tmpfs
  // (there the page cache is the file: O_DIRECT still copies into it), and the caller writes
  // through the page cache.
  static std::unique_ptr<DirectFile> open(const std::string& path, size_t min_chunk, size_t max_chunk);
  ~DirectFile();  // waits for the chunks handed over (errors ignored), closes

  DirectFile(const DirectFile&) = delete;
  DirectFile& operator=(const DirectFile&) = delete;

  // Copies the parts in; a full chunk goes to the writing thread. Returns 0, or the errno of a
  // chunk that failed to write (nothing of this file is written after it then).
  int append(const iovec* parts, size_t count);
  // Waits for every chunk handed over, then writes the rest (less than a block, through
  // `buffered_fd`, the page cache, so the file's size is exact): the file then holds every byte
  // appended. Returns 0 or an errno as append().
  int sync(int buffered_fd);
  // Waits for every chunk handed over; 0 or the errno of one that failed.
  int settle() { return wait(0); }

  uint64_t appended() const { return chunk_offset_ + fill_; }
  // The bytes from the file's start known written (after a failed chunk: up to the chunk before).
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }
  size_t chunk_bytes() const { return capacity_; }

  struct ChunkFree {
    void operator()(uint8_t* p) const;
  };
  struct Chunk {
    std::unique_ptr<uint8_t, ChunkFree> bytes;
    size_t capacity = 0;
  };

 private:
  DirectFile(int fd, size_t min_chunk, size_t max_chunk);
  void hand_over();        // the filled chunk to the thread, a fresh one to fill
  int wait(size_t at_most_pending);  // until that few chunks are in flight; the file's error
  int wait_for_room();               // until one more chunk may be handed over; the file's error
  int keep_spares(int err);          // the chunks the thread gave back, kept to be filled again
  Chunk take_chunk(size_t capacity);

  int fd_;
  size_t min_chunk_, max_chunk_;
  Chunk chunk_;            // the one being filled
  size_t capacity_;        // of the chunks filled now
  size_t fill_ = 0;
  uint64_t chunk_offset_ = 0;  // where chunk_ starts in the file (a multiple of kAlign)
  size_t filled_since_sync_ = 0;
  std::vector<Chunk> spare_;  // chunks back from the thread, of capacity_ bytes
  std::vector<Chunk> returned_scratch_;
  // Shared with the writing thread (under its lock):
  friend class DirectWriteThread;
  size_t pending_ = 0;
  int error_ = 0;
  std::atomic<uint64_t> durable_{0};
  std::vector<Chunk> returned_;
};

}  // namespace podspan
