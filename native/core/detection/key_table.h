// A bounded table of per-key state for the Detector: open addressing (linear probing, deletion by
// backward shift) over an index sized once, entries in one array that grows up to the cap and
// never moves after (reserved up front: pages are touched only as keys arrive), and a
// least-recently-active list through the entries. Past the cap the least recently active key is
// evicted (counted) to make room. No allocation once the table has reached its cap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace podspan {

// Key: equality-comparable, trivially copyable; Value: default-constructible.
template <class Key, class Value>
class KeyTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    Key key{};
    Value value{};
    uint64_t hash = 0;
    uint32_t prev = kNone, next = kNone;  // the recency list: prev is more recent
  };

  explicit KeyTable(size_t cap) : cap_(cap < 1 ? 1 : cap) {
    entries_.reserve(cap_);
    size_t n = 8;
    while (n < cap_ * 2) n <<= 1;
    index_.assign(n, kNone);
    mask_ = n - 1;
  }

  // The entry's slot for key k (hash h), or kNone. Does not count as activity.
  uint32_t find(const Key& k, uint64_t h) const {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t s = index_[i];
      if (s == kNone) return kNone;
      if (entries_[s].hash == h && entries_[s].key == k) return s;
    }
  }

  // The entry for k, added (Value{}, `added` set) when missing and made the most recently
  // active either way. When the table is full the least recently active entry goes first:
  // on_evict(entry) sees it before it is reused.
  template <class OnEvict>
  uint32_t get(const Key& k, uint64_t h, bool& added, OnEvict&& on_evict) {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t s = index_[i];
      if (s == kNone) break;
      if (entries_[s].hash == h && entries_[s].key == k) {
        added = false;
        move_to_front(s);
        return s;
      }
    }
    added = true;
    uint32_t slot;
    if (entries_.size() < cap_) {
      slot = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    } else {
      slot = tail_;
      on_evict(entries_[slot]);
      unlink(slot);
      erase_index(slot);
      ++evicted_;
      entries_[slot] = Entry{};
    }
    // Probed again: the eviction may have shifted this key's chain.
    size_t i = h & mask_;
    while (index_[i] != kNone) i = (i + 1) & mask_;
    index_[i] = slot;
    entries_[slot].key = k;
    entries_[slot].hash = h;
    push_front(slot);
    return slot;
  }

  Entry& at(uint32_t slot) { return entries_[slot]; }
  const Entry& at(uint32_t slot) const { return entries_[slot]; }
  size_t size() const { return entries_.size(); }
  size_t cap() const { return cap_; }
  uint64_t evicted() const { return evicted_; }
  // Bytes reserved, whether touched or not: the table's bound.
  size_t reserved_bytes() const { return entries_.capacity() * sizeof(Entry) + index_.size() * sizeof(uint32_t); }

 private:
  void push_front(uint32_t s) {
    Entry& e = entries_[s];
    e.prev = kNone;
    e.next = head_;
    if (head_ != kNone) entries_[head_].prev = s;
    head_ = s;
    if (tail_ == kNone) tail_ = s;
  }
  void unlink(uint32_t s) {
    Entry& e = entries_[s];
    if (e.prev != kNone) entries_[e.prev].next = e.next;
    else head_ = e.next;
    if (e.next != kNone) entries_[e.next].prev = e.prev;
    else tail_ = e.prev;
    e.prev = e.next = kNone;
  }
  void move_to_front(uint32_t s) {
    if (head_ == s) return;
    unlink(s);
    push_front(s);
  }
  // Removes slot s from the index; the entries after it in its cluster move back into the hole
  // unless their home lies between the hole and where they are (Knuth's algorithm R).
  void erase_index(uint32_t s) {
    size_t hole = entries_[s].hash & mask_;
    while (index_[hole] != s) hole = (hole + 1) & mask_;
    for (size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
      const uint32_t t = index_[j];
      if (t == kNone) break;
      const size_t home = entries_[t].hash & mask_;
      const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        index_[hole] = t;
        hole = j;
      }
    }
    index_[hole] = kNone;
  }

  size_t cap_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> index_;
  size_t mask_ = 0;
  uint32_t head_ = kNone, tail_ = kNone;
  uint64_t evicted_ = 0;
};

}  // namespace podspan
