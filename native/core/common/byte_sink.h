// Bytes appended at a cursor into memory someone else owns: a std::string (StringSink), or in the
// addon a JavaScript Buffer reused batch after batch, so that a batch's JSON lines are written
// once, where JavaScript reads them, instead of into a scratch line, then a string, then a
// Buffer. A writer asks for room, writes at the pointer it gets and then moves the end.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

namespace podspan {

class ByteSink {
 public:
  virtual ~ByteSink() = default;

  // Where at least n more bytes may go past the end (valid until the next room()). `written`:
  // bytes already written there and not yet ended at, kept when the memory moves.
  char* room(size_t n, size_t written = 0) {
    if (capacity_ - size_ < n) grow(size_ + n, size_ + written);
    return data_ + size_;
  }
  // The end moved to `end`, which lies within the last room() given.
  void end_at(const char* end) { size_ = static_cast<size_t>(end - data_); }
  void append(const void* bytes, size_t n) {
    std::memcpy(room(n), bytes, n);
    size_ += n;
  }

  char* data() const { return data_; }
  size_t size() const { return size_; }

 protected:
  // Gives data_ at least `capacity` bytes (capacity_ what it then has), the first `keep` kept.
  virtual void grow(size_t capacity, size_t keep) = 0;

  char* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// Appends to a std::string. While the sink writes, the string's length is the sink's capacity
// (bytes past the end are not yet written); it is cut back to what was written when the sink ends.
class StringSink final : public ByteSink {
 public:
  // kExact: grown to what each room() asks (one record into a caller's string). kWhole: the
  // string's capacity is taken at the first growth, then doubled (a batch into strings that
  // keep their capacity from one batch to the next: zero-filled once per batch, no more).
  enum class Growth { kExact, kWhole };

  explicit StringSink(std::string& s, Growth growth = Growth::kExact) : s_(s), growth_(growth) {
    size_ = capacity_ = s.size();
    data_ = &s[0];
  }
  ~StringSink() override { s_.resize(size_); }
  StringSink(const StringSink&) = delete;
  StringSink& operator=(const StringSink&) = delete;

 private:
  void grow(size_t capacity, size_t) override {  // the string keeps all it holds
    if (growth_ == Growth::kWhole) capacity = std::max({capacity, s_.capacity(), 2 * capacity_});
    s_.resize(capacity);
    data_ = &s_[0];
    capacity_ = s_.size();
  }

  std::string& s_;
  const Growth growth_;
};

}  // namespace podspan
