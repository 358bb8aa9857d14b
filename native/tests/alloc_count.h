// Counts operator new calls while `counting` is on, for tests that steady state allocates nothing
// per packet or message. alloc_count.cc replaces the global operator new (the only replacement in
// the test binary), in the plain build only: the sanitizers replace every variant of it
// themselves, so the counting tests skip there (PODSPAN_SANITIZED, from heap.h).
#pragma once

#include <atomic>
#include <cstdint>

#include "heap.h"

namespace alloc_count {
extern std::atomic<bool> counting;
extern std::atomic<uint64_t> news;
}  // namespace alloc_count
