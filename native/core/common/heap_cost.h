// What memory really costs on the heap, for caps that must bound RSS rather than payload.
#pragma once

#include <cstddef>

namespace podspan {

// The block glibc's malloc hands out for n bytes: 8 bytes of header, rounded up to 16, at least 32.
constexpr size_t malloc_block(size_t n) { return n + 8 <= 32 ? 32 : (n + 8 + 15) & ~size_t{15}; }

}  // namespace podspan
