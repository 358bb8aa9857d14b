#include "alloc_count.h"

#include <cstdlib>
#include <new>

namespace alloc_count {
std::atomic<bool> counting{false};
std::atomic<uint64_t> news{0};
}  // namespace alloc_count

#ifndef PODSPAN_SANITIZED
// GCC cannot tell that these replace the pair: it would warn that free() gets new's memory.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (alloc_count::counting.load(std::memory_order_relaxed)) alloc_count::news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif  // PODSPAN_SANITIZED
