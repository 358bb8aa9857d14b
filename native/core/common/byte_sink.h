// Bytes appended at a cursor into memory someone else owns (in the addon, a JavaScript Buffer
// reused batch after batch), so that a batch's JSON lines are written once, where JavaScript
// reads them, instead of into a scratch line, then a string, then a Buffer. A writer asks for
// room, writes at the pointer it gets and then moves the end. StringAppender below is the same
// interface over a std::string.
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

// Appends each line to a std::string once it is whole, from a scratch area of its own; Line
// (analysis/json_records.cc) writes through it as through a ByteSink. A string cannot be given
// room without zero-filling it, and zero-filling a batch's room before writing there was a
// second pass over its memory (+17% formatting CPU on request-dense HTTP). The scratch is the
// thread's, shared by its appenders (a line is ended before the next begins) and kept for its
// capacity: no allocation per line or per batch.
class StringAppender {
 public:
  explicit StringAppender(std::string& s) : s_(s), scratch_(thread_scratch()) {}
  StringAppender(const StringAppender&) = delete;
  StringAppender& operator=(const StringAppender&) = delete;

  // As ByteSink's: room for n bytes past the end, the `written` bytes already there kept.
  char* room(size_t n, size_t) {
    if (scratch_.size() < n) scratch_.resize(std::max(n, 2 * scratch_.size()));  // keeps what was written
    return &scratch_[0];
  }
  void end_at(const char* end) { s_.append(scratch_.data(), static_cast<size_t>(end - scratch_.data())); }
  size_t size() const { return s_.size(); }
  const char* data() const { return s_.data(); }  // the lines appended so far

 private:
  static std::string& thread_scratch() {
    thread_local std::string scratch;
    return scratch;
  }

  std::string& s_;
  std::string& scratch_;
};

}  // namespace podspan
