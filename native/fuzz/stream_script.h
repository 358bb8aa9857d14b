// What the fuzz targets that drive a stream consumer (AppAnalyzer, ShadowExtractor) with a script
// of stream events share: the input read as that script (a byte at a time, or a run of bytes as
// they are), and the data and gap steps. Data may begin with a real message start from the
// target's own table, so every protocol path is reached.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "reassembly/reassembly.h"

namespace podspan_fuzz {

struct Start {
  const char* bytes;
  size_t len;
};
#define PODSPAN_FUZZ_START(s) {s, sizeof(s) - 1}

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool more() const { return at_ < size_; }
  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  // Up to `max` bytes of the input as they are (fewer at its end).
  std::pair<const uint8_t*, size_t> take(size_t max) {
    const size_t n = std::min(max, size_ - at_);
    const uint8_t* p = data_ + at_;
    at_ += n;
    return {p, n};
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Data on a direction the script picks: one of `starts`, then up to 255 bytes of input.
template <class Consumer, size_t N>
void data_step(Consumer& c, const podspan::StreamInfo& s, uint64_t (&offset)[2], Script& in, const Start (&starts)[N],
               std::string& buf, uint64_t ts) {
  const int dir = in.byte() & 1;
  const Start& start = starts[in.byte() % N];
  const auto [p, n] = in.take(in.byte());
  buf.assign(start.bytes, start.len);
  buf.append(reinterpret_cast<const char*>(p), n);
  if (buf.empty()) return;
  c.on_data(s, dir, offset[dir], reinterpret_cast<const uint8_t*>(buf.data()), static_cast<uint32_t>(buf.size()), ts);
  offset[dir] += buf.size();
}

// A gap of 1 to 256 bytes on a direction the script picks.
template <class Consumer>
void gap_step(Consumer& c, const podspan::StreamInfo& s, uint64_t (&offset)[2], Script& in) {
  const int dir = in.byte() & 1;
  const uint64_t n = 1 + in.byte();
  c.on_gap(s, dir, offset[dir], n);
  offset[dir] += n;
}

}  // namespace podspan_fuzz
