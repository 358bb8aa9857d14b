#include "forward/frame_batch.h"

#include <cstring>

namespace podspan {

namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A cursor over one message (or sub-message): reads fail with a message instead of going past
// `end`.
class Reader {
 public:
  Reader(const uint8_t* base, size_t begin, size_t end) : base_(base), pos_(begin), end_(end) {}
  bool done() const { return pos_ >= end_; }
  size_t pos() const { return pos_; }

  bool varint(uint64_t& v, std::string& problem) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= end_) {
        problem = "a varint runs past the end";
        return false;
      }
      const uint8_t b = base_[pos_++];
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    problem = "a varint is longer than 10 bytes";
    return false;
  }

  bool span(size_t n, WireSpan& out, std::string& problem) {
    if (n > end_ - pos_) {
      problem = "length " + std::to_string(n) + " runs past the end (" + std::to_string(end_ - pos_) + " bytes left)";
      return false;
    }
    out = {pos_, n};
    pos_ += n;
    return true;
  }

  // Skips a field of wire type `wire` (unknown fields are allowed, groups are not).
  bool skip(uint32_t wire, WireSpan& out, std::string& problem) {
    uint64_t v = 0;
    switch (wire) {
      case kVarint: {
        const size_t at = pos_;
        if (!varint(v, problem)) return false;
        out = {at, pos_ - at};
        return true;
      }
      case kFixed64: return span(8, out, problem);
      case kFixed32: return span(4, out, problem);
      case kLengthDelimited:
        if (!varint(v, problem)) return false;
        return span(static_cast<size_t>(v), out, problem);
      default:
        problem = "wire type " + std::to_string(wire) + " is not allowed";
        return false;
    }
  }

 private:
  const uint8_t* base_;
  size_t pos_, end_;
};

struct Field {
  uint32_t number;
  uint32_t wire;
  const char* name;
};

// Reads tag after tag of the message in [begin, end); for each, `on(number, wire, span)` with the
// field's bytes (the payload of a length-delimited field). Fields named in `expect` must have
// their wire type (a column may also be unpacked: its fixed type is listed too).
template <typename On>
std::string walk(const uint8_t* base, size_t begin, size_t end, const char* what, const Field* expect, size_t nexpect, On on) {
  Reader r(base, begin, end);
  std::string problem;
  while (!r.done()) {
    const size_t at = r.pos();
    uint64_t tag = 0;
    if (!r.varint(tag, problem)) return std::string(what) + " at byte " + std::to_string(at) + ": " + problem;
    const uint64_t number = tag >> 3;
    const uint32_t wire = static_cast<uint32_t>(tag & 7);
    if (number == 0 || number > 0x1fffffff) return std::string(what) + " at byte " + std::to_string(at) + ": field number " + std::to_string(number) + " is not valid";
    const char* name = nullptr;
    bool known = false, wire_ok = false;
    for (size_t i = 0; i < nexpect; ++i) {
      if (expect[i].number != number) continue;
      known = true;
      name = expect[i].name;
      wire_ok = wire_ok || expect[i].wire == wire;
    }
    auto where = [&] {
      return std::string(what) + " field " + std::to_string(number) + (name ? std::string(" (") + name + ")" : "") + " at byte " + std::to_string(at);
    };
    if (known && !wire_ok) return where() + ": wire type " + std::to_string(wire) + " does not match the schema";
    WireSpan s;
    if (!r.skip(wire, s, problem)) return where() + ": " + problem;
    if (known) {
      std::string p = on(static_cast<uint32_t>(number), wire, s);
      if (!p.empty()) return where() + ": " + p;
    }
  }
  return "";
}

const Field kLabelFields[] = {{1, kLengthDelimited, "key"}, {2, kLengthDelimited, "value"}};
const Field kSourceFields[] = {{1, kLengthDelimited, "node"},          {2, kLengthDelimited, "interface"},
                               {3, kVarint, "linktype"},               {4, kVarint, "snaplen"},
                               {5, kLengthDelimited, "pod_namespace"}, {6, kLengthDelimited, "pod_name"},
                               {7, kLengthDelimited, "pod_labels"}};
const Field kDropsFields[] = {{1, kVarint, "kernel"}, {2, kVarint, "interface"}, {3, kVarint, "queue_full"}, {4, kVarint, "disconnected"}};
const Field kBatchFields[] = {{1, kLengthDelimited, "agent"},  {2, kVarint, "sequence"},        {3, kLengthDelimited, "sources"},
                              {4, kLengthDelimited, "frames"}, {5, kLengthDelimited, "caplen"},   {5, kFixed32, "caplen"},
                              {6, kLengthDelimited, "origlen"}, {6, kFixed32, "origlen"},         {7, kLengthDelimited, "timestamp_ns"},
                              {7, kFixed64, "timestamp_ns"},   {8, kLengthDelimited, "source"},   {8, kFixed32, "source"},
                              {9, kLengthDelimited, "drops"}};

template <size_t N>
constexpr size_t count_of(const Field (&)[N]) {
  return N;
}

const auto kNoop = [](uint32_t, uint32_t, const WireSpan&) { return std::string(); };

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint64_t column_values(const std::vector<ColumnPiece>& pieces, size_t width) {
  uint64_t n = 0;
  for (const auto& p : pieces) n += p.bytes.length / width;
  return n;
}

}  // namespace

void FrameBatchLayout::clear() {
  *this = FrameBatchLayout();
}

std::string check_frame_batch(const uint8_t* data, size_t size, FrameBatchLayout* out) {
  FrameBatchLayout local;
  FrameBatchLayout& l = out ? *out : local;
  l.clear();
  std::string problem = walk(data, 0, size, "batch", kBatchFields, count_of(kBatchFields), [&](uint32_t number, uint32_t wire, const WireSpan& s) -> std::string {
    switch (number) {
      case 1: l.agent = s; return "";
      case 2: {
        Reader r(data, s.offset, s.offset + s.length);
        std::string p;
        r.varint(l.sequence, p);
        return p;
      }
      case 3: {
        l.sources.push_back(s);
        return walk(data, s.offset, s.offset + s.length, "source", kSourceFields, count_of(kSourceFields), [&](uint32_t n, uint32_t, const WireSpan& f) {
          return n == 7 ? walk(data, f.offset, f.offset + f.length, "label", kLabelFields, count_of(kLabelFields), kNoop) : std::string();
        });
      }
      case 4: l.frames = s; return "";
      case 9:
        l.drops.push_back(s);
        return walk(data, s.offset, s.offset + s.length, "drops", kDropsFields, count_of(kDropsFields), kNoop);
      default: {
        const size_t width = number == 7 ? 8 : 4;
        if (wire == kLengthDelimited && s.length % width) return std::to_string(s.length) + " bytes are not a whole number of " + std::to_string(width) + "-byte values";
        auto& column = number == 5 ? l.caplen : number == 6 ? l.origlen : number == 7 ? l.timestamp_ns : l.source;
        column.push_back({s});
        return "";
      }
    }
  });
  if (!problem.empty()) return problem;

  const uint64_t n = column_values(l.caplen, 4);
  if (column_values(l.origlen, 4) != n || column_values(l.timestamp_ns, 8) != n || column_values(l.source, 4) != n) {
    return "columns disagree (caplen " + std::to_string(n) + ", origlen " + std::to_string(column_values(l.origlen, 4)) + ", timestamps " +
           std::to_string(column_values(l.timestamp_ns, 8)) + ", sources " + std::to_string(column_values(l.source, 4)) + ")";
  }
  uint64_t k = 0, total = 0;
  for (const auto& p : l.caplen) {
    for (size_t i = 0; i < p.bytes.length; i += 4, ++k) {
      const uint32_t len = u32_at(data + p.bytes.offset + i);
      if (len > kMaxBatchFrameBytes) return "frame " + std::to_string(k) + " is " + std::to_string(len) + " bytes (at most " + std::to_string(kMaxBatchFrameBytes) + ")";
      total += len;
    }
  }
  if (total != l.frames.length) {
    return "frame lengths add up to " + std::to_string(total) + " bytes, the frames field holds " + std::to_string(l.frames.length);
  }
  k = 0;
  for (const auto& p : l.source) {
    for (size_t i = 0; i < p.bytes.length; i += 4, ++k) {
      const uint32_t idx = u32_at(data + p.bytes.offset + i);
      if (idx >= l.sources.size()) return "frame " + std::to_string(k) + " names source " + std::to_string(idx) + " of " + std::to_string(l.sources.size());
    }
  }
  l.frame_count = n;
  l.frame_bytes = total;
  return "";
}

namespace {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void put_bytes(std::vector<uint8_t>& out, uint32_t number, const uint8_t* p, size_t n) {
  put_varint(out, (number << 3) | kLengthDelimited);
  put_varint(out, n);
  out.insert(out.end(), p, p + n);
}

// A column's values as one packed field (an unpacked value is its little-endian bytes already).
void put_column(std::vector<uint8_t>& out, uint32_t number, const uint8_t* data, const std::vector<ColumnPiece>& pieces) {
  size_t n = 0;
  for (const auto& p : pieces) n += p.bytes.length;
  if (!n) return;
  put_varint(out, (number << 3) | kLengthDelimited);
  put_varint(out, n);
  for (const auto& p : pieces) out.insert(out.end(), data + p.bytes.offset, data + p.bytes.offset + p.bytes.length);
}

}  // namespace

void write_frame_batch(const uint8_t* data, const FrameBatchLayout& l, std::vector<uint8_t>& out) {
  out.clear();
  if (l.agent.length) put_bytes(out, 1, data + l.agent.offset, l.agent.length);
  if (l.sequence) {
    put_varint(out, 2 << 3);
    put_varint(out, l.sequence);
  }
  for (const auto& s : l.sources) put_bytes(out, 3, data + s.offset, s.length);
  if (l.frames.length) put_bytes(out, 4, data + l.frames.offset, l.frames.length);
  put_column(out, 5, data, l.caplen);
  put_column(out, 6, data, l.origlen);
  put_column(out, 7, data, l.timestamp_ns);
  put_column(out, 8, data, l.source);
  for (const auto& d : l.drops) put_bytes(out, 9, data + d.offset, d.length);
}

}  // namespace podspan
