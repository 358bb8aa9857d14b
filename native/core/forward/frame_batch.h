// The FrameBatch wire format (proto/podspan/v1/mirror.proto) checked completely before the
// collector acts on a received message: every length within its enclosing message, every
// field of the type the schema gives it, Sources, their label maps and Drops well formed, the
// columns agreeing in count, each frame within the snapshot limit, the lengths adding up to the
// frames field, each frame naming a source the batch has. Plain bytes in, no allocation beyond
// the layout's small vectors, so it can be fuzzed alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace podspan {

// Largest frame a batch may carry (the snapshot length the writers accept).
constexpr uint32_t kMaxBatchFrameBytes = 262144;

// A byte range of the message.
struct WireSpan {
  size_t offset = 0;
  size_t length = 0;
};

// One occurrence of a column field: packed (a little-endian array) or a single unpacked value.
struct ColumnPiece {
  WireSpan bytes;
};

// Where everything lies in a valid message (the last occurrence of a singular field wins, as
// protobuf parsers do; repeated fields keep every occurrence in order).
struct FrameBatchLayout {
  WireSpan agent;
  uint64_t sequence = 0;
  std::vector<WireSpan> sources;   // each Source message
  WireSpan frames;
  std::vector<ColumnPiece> caplen, origlen, timestamp_ns, source;
  std::vector<WireSpan> drops;     // each Drops message
  uint64_t frame_count = 0;
  uint64_t frame_bytes = 0;
  void clear();
};

// Checks `size` bytes at `data` as one FrameBatch. Returns "" when valid (and fills `layout` if
// given), else one line saying what is wrong and where, e.g.
// "field 4 (frames) at byte 7: length 100 runs past the end (6 bytes left)".
std::string check_frame_batch(const uint8_t* data, size_t size, FrameBatchLayout* layout = nullptr);

// Writes the message `l` describes (checked from `data`) in canonical form: fields in number
// order, each column as one packed field, the last agent and frames only.
void write_frame_batch(const uint8_t* data, const FrameBatchLayout& l, std::vector<uint8_t>& out);

}  // namespace podspan
