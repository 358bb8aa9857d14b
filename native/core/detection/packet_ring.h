// The flight recorder's memory: the most recent frames, copied into one byte buffer allocated
// once, [header + bytes] back to back, oldest dropped first. A frame inside a stable input (a
// file read by mapping, set_stable) is kept by pointer instead: [header + address], no copy. Frames from before `keep_ns` ahead
// of the latest one are dropped by time (from the front: frames come in time order, nearly);
// when the buffer needs room for a new frame, the oldest go early, and those are counted as
// overwritten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "common/packet.h"

namespace podspan {

class PacketRing {
 public:
  PacketRing(size_t capacity_bytes, uint64_t keep_ns);

  // Copies the frame in (caplen bytes and optlen bytes of pcapng options after them), or keeps
  // its address when it lies in the stable input. No allocation. False when it was not held:
  // larger than the whole ring.
  bool push(const PacketRecord& rec, const uint8_t* bytes);
  // Frames inside this memory stay there until the capture ends: held by address.
  void set_stable(const uint8_t* begin, size_t len) { stable_.set(begin, len); }

  // Calls fn(record, bytes) for every frame held, oldest (first pushed) first, while fn returns
  // true. The record's offset is 0; bytes (caplen, then optlen of options) stay valid until the
  // next push.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    size_t at = head_;
    bool wrapped = wrapped_;
    for (size_t i = 0; i < count_; ++i) {
      if (wrapped && at == wrap_) {
        at = 0;
        wrapped = false;
      }
      const Header h = header(at);
      if (!fn(record_of(h), bytes_at(at, h))) return;
      at += stored_size(h);
    }
  }

  size_t packets() const { return count_; }
  size_t bytes_used() const { return used_; }        // headers and padding included (<= capacity)
  size_t capacity() const { return capacity_; }
  uint64_t overwritten() const { return overwritten_; }  // dropped for room (else kept for keep_ns)
  uint64_t too_big() const { return too_big_; }          // frames larger than the ring, never held
  // Time from the oldest frame held to the latest: the window the ring really covers (less than
  // keep_ns when the memory cap binds).
  uint64_t span_ns() const;

  // What a copied frame takes in the ring, header and padding included.
  static size_t stored_size(const PacketRecord& rec) {
    return (kHeaderBytes + size_t{rec.caplen} + size_t{rec.optlen} + 7) & ~size_t{7};
  }

 private:
  struct Header {
    uint64_t ts_ns;
    uint32_t caplen, origlen, iface, optlen;
    uint32_t lent, pad;  // lent: the bytes stay in the stable input, their address follows
  };
  static constexpr size_t kHeaderBytes = sizeof(Header);
  static size_t stored_size(const Header& h) {
    return h.lent ? kHeaderBytes + sizeof(const uint8_t*) : (kHeaderBytes + size_t{h.caplen} + size_t{h.optlen} + 7) & ~size_t{7};
  }
  static PacketRecord record_of(const Header& h);
  Header header(size_t at) const {
    Header h;
    std::memcpy(&h, buf_.get() + at, sizeof h);
    return h;
  }
  const uint8_t* bytes_at(size_t at, const Header& h) const {
    if (!h.lent) return buf_.get() + at + kHeaderBytes;
    const uint8_t* p;
    std::memcpy(&p, buf_.get() + at + kHeaderBytes, sizeof p);
    return p;
  }

  PacketRecord header_at(size_t at) const { return record_of(header(at)); }
  bool room_at(size_t n, size_t* at) const;  // where n contiguous bytes fit now, if anywhere
  void pop_oldest();

  std::unique_ptr<uint8_t[]> buf_;  // not value-initialised: pages are touched only as frames arrive
  size_t capacity_;
  uint64_t keep_ns_;
  // Held frames lie in [head_, tail_) or, once wrapped, in [head_, wrap_) then [0, tail_).
  size_t head_ = 0, tail_ = 0, wrap_ = 0;
  bool wrapped_ = false;
  size_t count_ = 0, used_ = 0;
  uint64_t newest_ = 0;
  uint64_t overwritten_ = 0, too_big_ = 0;
  StableInput stable_;
};

}  // namespace podspan
