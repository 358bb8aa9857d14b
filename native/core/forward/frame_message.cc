#include "forward/frame_message.h"

#include <cstring>

namespace podspan {

namespace {

constexpr uint32_t kLengthDelimited = 2;

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

uint8_t* put_varint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// A length-delimited field's tag and length; returns where its payload starts.
uint8_t* put_header(uint8_t* p, uint32_t number, uint64_t length) {
  return put_varint(put_varint(p, (number << 3) | kLengthDelimited), length);
}

// A field's header size (tags of fields 1..15 are one byte), zero for an empty field (proto3
// leaves empty fields out, as protobufjs's encoder did).
size_t field_size(uint64_t length) {
  return length ? 1 + varint_size(length) + length : 0;
}

// Where the next frame and column values of one collector's message go.
struct Cursors {
  uint8_t *frames, *caplen, *origlen, *ts, *source;
};

// One frame's values in the columns (little-endian arrays on the wire, as they are in memory here).
void put_columns(Cursors& c, const PacketRecord& rec) {
  std::memcpy(c.caplen, &rec.caplen, 4);
  std::memcpy(c.origlen, &rec.origlen, 4);
  std::memcpy(c.ts, &rec.ts_ns, 8);
  std::memcpy(c.source, &rec.iface, 4);
  c.caplen += 4;
  c.origlen += 4;
  c.ts += 8;
  c.source += 4;
}

}  // namespace

size_t frame_message_body_size(size_t head_len, uint64_t frames, uint64_t frame_bytes) {
  return head_len + field_size(frame_bytes) + 3 * field_size(frames * 4) + field_size(frames * 8);
}

void write_frame_messages(const Batch& batch, const SplitPlan& plan, const uint8_t* head, size_t head_len, uint8_t* const* out) {
  const size_t targets = plan.frames.size();
  // at most 64 targets (the up mask's bits): cursors on the stack, nothing allocated per batch
  Cursors at[64];
  for (size_t t = 0; t < targets && t < 64; ++t) {
    const uint64_t n = plan.frames[t];
    if (!n) continue;
    uint8_t* p = out[t];
    std::memcpy(p, head, head_len);
    p += head_len;
    // the payload of each field is filled below; its header is written here, in field order
    if (plan.bytes[t]) p = put_header(p, 4, plan.bytes[t]);
    at[t].frames = p;
    p = put_header(p + plan.bytes[t], 5, n * 4);
    at[t].caplen = p;
    p = put_header(p + n * 4, 6, n * 4);
    at[t].origlen = p;
    p = put_header(p + n * 4, 7, n * 8);
    at[t].ts = p;
    p = put_header(p + n * 8, 8, n * 4);
    at[t].source = p;
  }
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const int32_t t = plan.target[i];
    if (t < 0 || t >= 64) continue;
    const PacketRecord& rec = batch.records[i];
    Cursors& c = at[t];
    if (rec.caplen) std::memcpy(c.frames, batch.bytes(rec), rec.caplen);  // a batch of empty frames has no storage (null)
    c.frames += rec.caplen;
    put_columns(c, rec);
  }
}

bool frames_in_place(const Batch& batch) {
  if (batch.borrowed) return false;
  size_t at = 0;
  for (const PacketRecord& rec : batch.records) {
    if (rec.offset != at || rec.optlen) return false;
    at += rec.caplen;
  }
  return at == batch.used;
}

size_t frame_message_lead_size(size_t head_len, uint64_t frame_bytes) {
  return head_len + (frame_bytes ? 1 + varint_size(frame_bytes) : 0);
}

void write_frame_message_around(const Batch& batch, const uint8_t* head, size_t head_len, uint8_t* out) {
  const uint64_t n = batch.records.size();
  std::memcpy(out, head, head_len);
  uint8_t* p = out + head_len;
  if (batch.used) p = put_header(p, 4, batch.used);
  // the frames go here on the wire, from the batch; the columns follow in this buffer
  Cursors c;
  c.frames = nullptr;
  c.caplen = put_header(p, 5, n * 4);
  c.origlen = put_header(c.caplen + n * 4, 6, n * 4);
  c.ts = put_header(c.origlen + n * 4, 7, n * 8);
  c.source = put_header(c.ts + n * 8, 8, n * 4);
  for (const PacketRecord& rec : batch.records) put_columns(c, rec);
}

}  // namespace podspan
