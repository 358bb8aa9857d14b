#include "detection/packet_ring.h"

namespace podspan {

PacketRing::PacketRing(size_t capacity_bytes, uint64_t keep_ns)
    : buf_(new uint8_t[capacity_bytes ? capacity_bytes : 1]), capacity_(capacity_bytes), keep_ns_(keep_ns) {}

PacketRecord PacketRing::record_of(const Header& h) {
  PacketRecord rec;
  rec.ts_ns = h.ts_ns;
  rec.caplen = h.caplen;
  rec.origlen = h.origlen;
  rec.iface = h.iface;
  rec.optlen = h.optlen;
  return rec;
}

bool PacketRing::room_at(size_t n, size_t* at) const {
  if (count_ == 0) {
    *at = 0;
    return n <= capacity_;
  }
  if (wrapped_) {
    *at = tail_;
    return head_ - tail_ >= n;
  }
  if (capacity_ - tail_ >= n) {
    *at = tail_;
    return true;
  }
  *at = 0;  // the gap after tail_ is too small: go on at the start, before head_
  return head_ >= n;
}

void PacketRing::pop_oldest() {
  const size_t n = stored_size(header(head_));
  head_ += n;
  used_ -= n;
  --count_;
  if (count_ == 0) {
    head_ = tail_ = 0;
    wrapped_ = false;
  } else if (wrapped_ && head_ == wrap_) {
    head_ = 0;
    wrapped_ = false;
  }
}

uint64_t PacketRing::span_ns() const {
  if (count_ == 0) return 0;
  const uint64_t oldest = header_at(head_).ts_ns;
  return newest_ > oldest ? newest_ - oldest : 0;
}

bool PacketRing::push(const PacketRecord& rec, const uint8_t* bytes) {
  const size_t len = size_t{rec.caplen} + rec.optlen;
  const bool lent = len != 0 && stable_.holds(bytes, len);
  const Header h{rec.ts_ns, rec.caplen, rec.origlen, rec.iface, rec.optlen, lent ? 1u : 0u, 0};
  const size_t n = stored_size(h);
  if (n > capacity_) {
    ++too_big_;
    return false;
  }
  // "Now" is the latest frame's time, not the greatest seen: a clock stepped back (or one bogus
  // far-future time in a file) costs what the ring held then, never the ring for the rest of the run.
  newest_ = rec.ts_ns;
  const uint64_t horizon = newest_ > keep_ns_ ? newest_ - keep_ns_ : 0;
  // Only the front is looked at: a frame behind it that is out of its window (pushed after a
  // clock step back) goes when it reaches the front. Checked again after each eviction for room,
  // so the front always is within the window (and only young frames count as overwritten).
  auto expire = [&] {
    while (count_ != 0 && header_at(head_).ts_ns < horizon) pop_oldest();
  };
  expire();
  size_t at = 0;
  while (!room_at(n, &at)) {
    pop_oldest();
    ++overwritten_;
    expire();
  }
  if (count_ == 0) {
    head_ = 0;
  } else if (!wrapped_ && at == 0) {
    wrap_ = tail_;
    wrapped_ = true;
  }
  std::memcpy(buf_.get() + at, &h, sizeof h);
  if (lent) {
    std::memcpy(buf_.get() + at + kHeaderBytes, &bytes, sizeof bytes);
  } else if (len != 0) {
    std::memcpy(buf_.get() + at + kHeaderBytes, bytes, len);
  }
  tail_ = at + n;
  used_ += n;
  ++count_;
  return true;
}

}  // namespace podspan
