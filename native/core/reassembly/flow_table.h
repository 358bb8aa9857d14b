// The flow table: an open-addressing index (linear probing, deletion by backward shift) from a
// key to a slot in a pool whose entries never move. A lookup is on every packet's path; with
// thousands of live flows std::unordered_map cost three dependent cache misses per packet (the
// bucket, the node before, the node), this costs one probe of an 8-byte entry and the flow itself.
// Slots are small integers reused after erase, so owners can index their own per-flow state by
// them instead of keeping a second map.
#pragma once

#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace podspan {

template <class Key, class Value>
class FlowTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  FlowTable() : index_(kMinIndex, Entry{0, kNone}), mask_(kMinIndex - 1) {}
  ~FlowTable() {
    for (const Entry& e : index_)
      if (e.slot != kNone) node(e.slot).~Node();
    for (Node* c : chunks_) ::operator delete(c);
  }
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  size_t size() const { return size_; }

  // `hash` is the caller's hash of `key` (only its low 32 bits are used).
  uint32_t find(const Key& key, uint64_t hash) const {
    const uint32_t tag = static_cast<uint32_t>(hash);
    for (uint32_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry& e = index_[i];
      if (e.slot == kNone) return kNone;
      if (e.tag == tag && node(e.slot).key == key) return e.slot;
    }
  }

  // For lookahead: fetch the index entry a later find() will probe first, and later still, the
  // slot of the first entry with the hash's tag (a guess: keys are not compared).
  void prefetch_index(uint64_t hash) const { __builtin_prefetch(&index_[static_cast<uint32_t>(hash) & mask_]); }
  uint32_t peek(uint64_t hash) const {
    const uint32_t tag = static_cast<uint32_t>(hash);
    for (uint32_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry& e = index_[i];
      if (e.slot == kNone || e.tag == tag) return e.slot;
    }
  }

  // Adds `key` (not present) with a default-constructed value; returns its slot.
  uint32_t insert(const Key& key, uint64_t hash) {
    if ((size_ + 1) * 4 > index_.size() * 3) grow();
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();  // the most recently freed: likely still in cache
      free_.pop_back();
    } else {
      slot = next_slot_++;
      if (chunk_of(slot) == chunks_.size()) chunks_.push_back(static_cast<Node*>(::operator new(sizeof(Node) * chunk_size(chunks_.size()))));
    }
    new (&node(slot)) Node{key, Value{}};
    place(Entry{static_cast<uint32_t>(hash), slot});
    ++size_;
    return slot;
  }

  // Removes the entry in `slot`; `hash` is its key's hash.
  void erase(uint32_t slot, uint64_t hash) {
    uint32_t i = static_cast<uint32_t>(hash) & mask_;
    while (index_[i].slot != slot) i = (i + 1) & mask_;
    // Backward shift: later entries of the probe run move up, so no tombstones pile up.
    for (uint32_t j = (i + 1) & mask_; index_[j].slot != kNone; j = (j + 1) & mask_) {
      const uint32_t home = index_[j].tag & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        index_[i] = index_[j];
        i = j;
      }
    }
    index_[i] = Entry{0, kNone};
    node(slot).~Node();
    free_.push_back(slot);
    --size_;
  }

  Value& value(uint32_t slot) { return node(slot).value; }
  const Value& value(uint32_t slot) const { return node(slot).value; }
  const Key& key(uint32_t slot) const { return node(slot).key; }

 private:
  struct Node {
    Key key;
    Value value;
  };
  struct Entry {
    uint32_t tag;   // the hash's low 32 bits; its low bits are also the home position
    uint32_t slot;  // kNone: empty
  };
  static constexpr uint32_t kMinIndex = 64;
  static constexpr uint32_t kFirstChunk = 64;

  // Chunk c holds kFirstChunk << c slots, so a small table is small and a large one has few
  // chunks; pages of a chunk not yet used are never touched (nor resident).
  static size_t chunk_of(uint32_t slot) {
    const uint64_t s = static_cast<uint64_t>(slot) + kFirstChunk;
    return static_cast<size_t>(63 - __builtin_clzll(s)) - 6;
  }
  static size_t chunk_size(size_t c) { return static_cast<size_t>(kFirstChunk) << c; }
  Node& node(uint32_t slot) const {
    const size_t c = chunk_of(slot);
    return chunks_[c][static_cast<uint64_t>(slot) + kFirstChunk - chunk_size(c)];
  }

  void place(Entry e) {
    uint32_t i = e.tag & mask_;
    while (index_[i].slot != kNone) i = (i + 1) & mask_;
    index_[i] = e;
  }
  void grow() {
    std::vector<Entry> old(index_.size() * 2, Entry{0, kNone});
    old.swap(index_);
    mask_ = static_cast<uint32_t>(index_.size() - 1);
    for (const Entry& e : old)
      if (e.slot != kNone) place(e);
  }

  std::vector<Entry> index_;
  uint32_t mask_;
  std::vector<Node*> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_slot_ = 0;
  size_t size_ = 0;
};

}  // namespace podspan
