// FlowTable against std::unordered_map over random inserts and erases, with hashes forced to
// collide (long probe runs that wrap around the index, where backward-shift deletion can go
// wrong), slots reused after erase, and values that own memory (destroyed exactly once).
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>

#include "check.h"
#include "reassembly/flow_table.h"

using namespace podspan;

namespace {

struct Value {
  uint64_t stamp = 0;
  std::shared_ptr<int> owned;  // counts live copies: a leak or a double destroy shows in use_count
};

using Table = FlowTable<uint64_t, Value>;

void run_against_reference(uint64_t (*hash)(uint64_t), uint32_t keys, int steps, uint32_t seed) {
  Table table;
  std::unordered_map<uint64_t, uint32_t> reference;  // key -> slot
  auto token = std::make_shared<int>(0);
  std::mt19937 rng(seed);
  for (int step = 0; step < steps; ++step) {
    const uint64_t key = rng() % keys;
    const uint32_t found = table.find(key, hash(key));
    auto it = reference.find(key);
    if (it == reference.end()) {
      CHECK_EQ(found, Table::kNone);
      const uint32_t slot = table.insert(key, hash(key));
      table.value(slot).stamp = key * 7 + 1;
      table.value(slot).owned = token;
      reference.emplace(key, slot);
    } else {
      CHECK_EQ(found, it->second);
      CHECK_EQ(table.value(found).stamp, key * 7 + 1);
      CHECK_EQ(table.key(found), key);
      if (rng() % 2) {
        table.erase(found, hash(key));
        reference.erase(it);
      }
    }
    CHECK_EQ(table.size(), reference.size());
  }
  CHECK_EQ(static_cast<size_t>(token.use_count()), reference.size() + 1);
  std::set<uint32_t> slots;  // no two live keys share a slot, and slots stay dense
  for (const auto& kv : reference) {
    CHECK_EQ(table.find(kv.first, hash(kv.first)), kv.second);
    slots.insert(kv.second);
    CHECK(kv.second < 2 * keys);
  }
  CHECK_EQ(slots.size(), reference.size());
}

uint64_t mixed(uint64_t k) { return (k + 1) * 0x9e3779b97f4a7c15ull; }
uint64_t colliding(uint64_t k) { return (k % 5) * 0x10001ull; }  // five home positions, same tags
uint64_t wrapping(uint64_t k) { return 0xFFFFFFFFull - (k % 3); }  // homes at the index's last positions

}  // namespace

TEST(flow_table_matches_a_map_over_random_inserts_and_erases) { run_against_reference(mixed, 5000, 200000, 1); }

TEST(flow_table_survives_colliding_hashes_and_runs_that_wrap) {
  run_against_reference(colliding, 300, 50000, 2);
  run_against_reference(wrapping, 40, 20000, 3);
}

TEST(flow_table_reuses_slots_and_destroys_values_once) {
  auto token = std::make_shared<int>(0);
  {
    Table table;
    for (uint64_t k = 0; k < 1000; ++k) table.value(table.insert(k, mixed(k))).owned = token;
    CHECK_EQ(token.use_count(), 1001);
    const uint32_t freed = table.find(500, mixed(500));
    table.erase(freed, mixed(500));
    CHECK_EQ(token.use_count(), 1000);
    CHECK_EQ(table.insert(5000, mixed(5000)), freed);  // the slot just freed comes back first
    CHECK(table.value(freed).owned == nullptr);        // as a fresh value
  }
  CHECK_EQ(token.use_count(), 1);  // the table's destructor destroyed every live value
}
