// Collectors' shares of a capture batch written as FrameBatch messages (proto/podspan/v1/
// mirror.proto), straight into the buffers that go on the wire: the frames are copied once, from
// the capture batch into the message, and the columns are written in their packed wire form. A
// batch whose frames all go to one collector and lie back to back in its data is not copied at
// all: its message is written around them (write_frame_message_around) and sent in three pieces.
//
// A message is: the head the caller encoded once (agent and sources, fields 1 and 3), then
// frames (4), caplen (5), origlen (6), timestamp_ns (7), source (8), then room for what is known
// only when the message is sent (sequence, field 2, and drops, field 9; see the caller). Fields
// in another order than their numbers are still one valid message: protobuf parsers read any
// order, the last occurrence of a singular field winning (there is one of each here).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/packet.h"
#include "forward/columnar.h"

namespace podspan {

// Room left after the body for the sequence (tag and a 10-byte varint) and the drops (tag, length
// and four tagged 10-byte varints).
constexpr size_t kFrameBatchTailRoom = 1 + 10 + 2 + 4 * 11;

// Bytes of the body of a message (head included, tail room not) for `frames` frames of
// `frame_bytes` bytes in all.
size_t frame_message_body_size(size_t head_len, uint64_t frames, uint64_t frame_bytes);

// Writes the body of collector t's message into out[t] for every t with frames in `plan` (out[t]
// holds frame_message_body_size(...) bytes at least; ignored for a t with no frames).
void write_frame_messages(const Batch& batch, const SplitPlan& plan, const uint8_t* head, size_t head_len, uint8_t* const* out);

// Whether the frames of `batch` lie back to back from the start of its own data, in record order
// (no pcapng options between them, nothing borrowed from a reader): then data[0, used) is the
// payload of the frames field as it is.
bool frames_in_place(const Batch& batch);

// Bytes of the head and the frames field's tag and length: where the frames go in the message.
size_t frame_message_lead_size(size_t head_len, uint64_t frame_bytes);

// Writes the message of every frame of `batch` (frames_in_place) without its frames: out holds
// frame_message_body_size(...) - used bytes at least; the message is out[0, lead) (the head and
// the frames field's header), then batch.data[0, used), then the rest of out (the columns).
void write_frame_message_around(const Batch& batch, const uint8_t* head, size_t head_len, uint8_t* out);

}  // namespace podspan
