// Resuming a writev/pwritev after a short write: the parts already written are skipped.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace podspan {

// Moves `first` past the `written` bytes of iov[first..] (a part written partly is cut), and past
// empty parts.
inline void skip_written(std::vector<iovec>& iov, size_t& first, size_t written) {
  while (written > 0) {
    if (written >= iov[first].iov_len) {
      written -= iov[first].iov_len;
      ++first;
    } else {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + written;
      iov[first].iov_len -= written;
      written = 0;
    }
  }
  while (first < iov.size() && iov[first].iov_len == 0) ++first;
}

}  // namespace podspan
