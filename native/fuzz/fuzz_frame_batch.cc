// libFuzzer target: any bytes as a received FrameBatch through the collector's validation. ASan
// catches any read out of bounds; a message found valid must stay valid with the same frames
// and sources once re-encoded in canonical form, and canonical form must be a fixed point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "forward/frame_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  FrameBatchLayout first;
  if (!check_frame_batch(data, size, &first).empty()) return 0;
  if (first.frame_bytes != first.frames.length || first.frame_bytes > uint64_t{kMaxBatchFrameBytes} * first.frame_count) std::abort();
  std::vector<uint8_t> canonical;
  write_frame_batch(data, first, canonical);
  FrameBatchLayout second;
  if (!check_frame_batch(canonical.data(), canonical.size(), &second).empty()) std::abort();
  if (second.frame_count != first.frame_count || second.frame_bytes != first.frame_bytes || second.sources.size() != first.sources.size() ||
      second.sequence != first.sequence || second.agent.length != first.agent.length) {
    std::abort();
  }
  std::vector<uint8_t> again;
  write_frame_batch(canonical.data(), second, again);
  if (again != canonical) std::abort();
  return 0;
}
