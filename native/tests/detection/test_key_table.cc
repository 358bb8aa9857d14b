// The Detector's bounded key table against a plain model (a map and a recency list): the same
// keys found, the least recently active one evicted past the cap, every eviction counted, and
// lookups still right after many deletions by backward shift.
#include <cstdint>
#include <list>
#include <map>
#include <random>

#include "check.h"
#include "detection/key_table.h"

using namespace podspan;

namespace {
struct Key {
  uint32_t v;
  bool operator==(const Key& o) const { return v == o.v; }
};
using Table = KeyTable<Key, uint64_t>;
constexpr uint32_t kNone = Table::kNone;
uint64_t weak_hash(uint32_t v) { return v % 13; }  // long clusters on purpose: deletion must shift them right
}  // namespace

TEST(key_table_matches_a_model_with_least_recently_active_eviction) {
  const size_t cap = 48;
  KeyTable<Key, uint64_t> t(cap);
  std::list<uint32_t> recency;  // front: most recent
  std::map<uint32_t, uint64_t> model;
  std::mt19937 rng(7);
  uint64_t evictions = 0;
  for (int op = 0; op < 200000; ++op) {
    const uint32_t k = rng() % 200;
    if (rng() % 3 == 0) {  // a lookup only: no recency change
      const uint32_t slot = t.find(Key{k}, weak_hash(k));
      CHECK_EQ(slot != kNone, model.count(k) == 1);
      if (slot != kNone) CHECK_EQ(t.at(slot).value, model[k]);
      continue;
    }
    bool added = false;
    uint32_t evicted_key = UINT32_MAX;
    const uint32_t slot = t.get(Key{k}, weak_hash(k), added, [&](auto& e) { evicted_key = e.key.v; });
    CHECK_EQ(added, model.count(k) == 0);
    if (added) {
      if (model.size() == cap) {
        CHECK_EQ(evicted_key, recency.back());  // the least recently active
        model.erase(recency.back());
        recency.pop_back();
        ++evictions;
      } else {
        CHECK_EQ(evicted_key, UINT32_MAX);
      }
      model[k] = 0;
    } else {
      recency.remove(k);
    }
    recency.push_front(k);
    t.at(slot).value += 1;
    model[k] += 1;
  }
  CHECK_EQ(t.size(), cap);
  CHECK_EQ(t.evicted(), evictions);
  CHECK(evictions > 1000);
  for (const auto& kv : model) {
    const uint32_t slot = t.find(Key{kv.first}, weak_hash(kv.first));
    CHECK(slot != kNone);
    if (slot != kNone) CHECK_EQ(t.at(slot).value, kv.second);
  }
}

TEST(key_table_reserves_its_cap_once) {
  KeyTable<Key, uint64_t> t(1000);
  const size_t reserved = t.reserved_bytes();
  bool added;
  for (uint32_t i = 0; i < 100000; ++i) t.get(Key{i}, i * 0x9e3779b97f4a7c15ull, added, [](auto&) {});
  CHECK_EQ(t.size(), 1000u);
  CHECK_EQ(t.evicted(), 99000u);
  CHECK_EQ(t.reserved_bytes(), reserved);
}
