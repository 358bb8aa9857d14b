// check_frame_batch: a well-formed FrameBatch passes with its layout; each way a message can lie
// (a length past the end at any depth, columns that disagree, lengths that do not add up, a
// missing source, an oversized frame, wrong wire types, overlong varints) is refused with a line
// saying which; canonical re-encoding keeps a valid batch valid; every prefix of a valid batch
// is judged without reading past it (ASan).
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "forward/frame_batch.h"

using namespace podspan;

namespace {

using Bytes = std::vector<uint8_t>;

void varint(Bytes& b, uint64_t v) {
  for (; v >= 0x80; v >>= 7) b.push_back(static_cast<uint8_t>(v | 0x80));
  b.push_back(static_cast<uint8_t>(v));
}
void field(Bytes& b, uint32_t number, const Bytes& payload) {
  varint(b, (number << 3) | 2);
  varint(b, payload.size());
  b.insert(b.end(), payload.begin(), payload.end());
}
void field(Bytes& b, uint32_t number, const std::string& s) { field(b, number, Bytes(s.begin(), s.end())); }
void number(Bytes& b, uint32_t n, uint64_t v) {
  varint(b, n << 3);
  varint(b, v);
}
template <typename T>
Bytes le(std::initializer_list<T> values) {
  Bytes b;
  for (T v : values) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
  }
  return b;
}

Bytes source(const std::string& node, bool labels) {
  Bytes s;
  field(s, 1, node);
  field(s, 2, "eth0");
  number(s, 3, 1);
  number(s, 4, 262144);
  if (labels) {
    Bytes entry;
    field(entry, 1, "app");
    field(entry, 2, "cart");
    field(s, 7, entry);
  }
  return s;
}

// agent, sequence 7, two sources, three frames of 10, 0 and 5 bytes, drops.
Bytes good() {
  Bytes m;
  field(m, 1, "node-a/1");
  number(m, 2, 7);
  field(m, 3, source("node-a", false));
  field(m, 3, source("node-a", true));
  field(m, 4, Bytes(15, 0x42));
  field(m, 5, le<uint32_t>({10, 0, 5}));
  field(m, 6, le<uint32_t>({60, 0, 5}));
  field(m, 7, le<uint64_t>({1, 2, 3}));
  field(m, 8, le<uint32_t>({0, 1, 1}));
  Bytes drops;
  number(drops, 1, 3);
  number(drops, 4, 2);
  field(m, 9, drops);
  return m;
}

std::string judge(const Bytes& m) { return check_frame_batch(m.data(), m.size()); }
bool says(const std::string& problem, const char* what) { return problem.find(what) != std::string::npos; }

// good() with the columns replaced.
Bytes with_columns(const Bytes& frames, const Bytes& caplen, const Bytes& origlen, const Bytes& ts, const Bytes& src) {
  Bytes m;
  field(m, 3, source("n", false));
  field(m, 3, source("n", false));
  field(m, 4, frames);
  field(m, 5, caplen);
  field(m, 6, origlen);
  field(m, 7, ts);
  field(m, 8, src);
  return m;
}

}  // namespace

TEST(frame_batch_accepts_a_well_formed_batch_and_lays_it_out) {
  const Bytes m = good();
  FrameBatchLayout l;
  CHECK_EQ(check_frame_batch(m.data(), m.size(), &l), std::string());
  CHECK_EQ(l.frame_count, 3u);
  CHECK_EQ(l.frame_bytes, 15u);
  CHECK_EQ(l.sources.size(), 2u);
  CHECK_EQ(l.sequence, 7u);
  CHECK_EQ(std::string(m.begin() + l.agent.offset, m.begin() + l.agent.offset + l.agent.length), std::string("node-a/1"));
  CHECK_EQ(l.drops.size(), 1u);
  Bytes canonical;
  write_frame_batch(m.data(), l, canonical);
  CHECK(canonical == m);  // good() is written in canonical form already
}

TEST(frame_batch_accepts_the_empty_message_and_unknown_fields) {
  CHECK_EQ(judge({}), std::string());
  Bytes m = good();
  number(m, 15, 99);            // unknown varint field
  field(m, 16, "future");       // unknown bytes field
  CHECK_EQ(judge(m), std::string());
}

TEST(frame_batch_refuses_a_length_past_the_end_at_every_depth) {
  // agent claims 100 bytes, 4 present (this one used to decode as agent "evil" and no frames)
  CHECK(says(judge({0x0a, 100, 'e', 'v', 'i', 'l'}), "batch field 1 (agent) at byte 0: length 100 runs past the end (4 bytes left)"));
  // a Source whose node runs past the Source (but not past the message)
  CHECK(says(judge({0x1a, 3, 0x0a, 100, 0x41, 0x22, 0}), "source field 1 (node) at byte 2: length 100 runs past the end (1 bytes left)"));
  // a label entry whose key runs past the entry
  Bytes entry = {0x0a, 9, 'a'}, src, m;
  field(src, 7, entry);
  field(m, 3, src);
  CHECK(says(judge(m), "label field 1 (key)"));
  CHECK(says(judge({0x22, 100, 1, 2}), "(frames) at byte 0: length 100 runs past the end"));
  CHECK(says(judge({0x2a, 8, 1, 0, 0, 0}), "(caplen) at byte 0: length 8 runs past the end"));
  CHECK(says(judge({0x4a, 2, 0x08, 0x80}), "drops field 1 (kernel) at byte 2: a varint runs past the end"));
  CHECK(says(judge({0x22, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}), "length 4294967295 runs past the end"));
  CHECK(says(judge({0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "longer than 10 bytes"));
}

TEST(frame_batch_refuses_columns_that_do_not_hold_together) {
  const Bytes f15(15, 0), f10(10, 0);
  CHECK(says(judge(with_columns(f15, le<uint32_t>({10, 5}), le<uint32_t>({10}), le<uint64_t>({1, 2}), le<uint32_t>({0, 0}))),
             "columns disagree (caplen 2, origlen 1, timestamps 2, sources 2)"));
  CHECK(says(judge(with_columns(f10, le<uint32_t>({10, 5}), le<uint32_t>({10, 5}), le<uint64_t>({1, 2}), le<uint32_t>({0, 0}))),
             "frame lengths add up to 15 bytes, the frames field holds 10"));
  CHECK(says(judge(with_columns(f10, le<uint32_t>({10}), le<uint32_t>({10}), le<uint64_t>({1}), le<uint32_t>({2}))), "frame 0 names source 2 of 2"));
  CHECK(says(judge(with_columns(f10, le<uint32_t>({262145}), le<uint32_t>({10}), le<uint64_t>({1}), le<uint32_t>({0}))), "frame 0 is 262145 bytes (at most 262144)"));
  Bytes odd = with_columns(f10, le<uint32_t>({10}), le<uint32_t>({10}), le<uint64_t>({1}), le<uint32_t>({0}));
  field(odd, 6, Bytes{1, 2});
  CHECK(says(judge(odd), "(origlen) at byte"));
  CHECK(says(judge(odd), "2 bytes are not a whole number of 4-byte values"));
}

TEST(frame_batch_refuses_wire_types_the_schema_does_not_give) {
  CHECK(says(judge({0x08, 1}), "batch field 1 (agent) at byte 0: wire type 0 does not match the schema"));
  CHECK(says(judge({0x7b}), "wire type 3 is not allowed"));  // a group (field 15)
  CHECK(says(judge({0x00, 1}), "field number 0 is not valid"));
  Bytes src = {0x1a, 2, 0x1a, 0}, m;  // Source linktype (varint) sent as bytes
  CHECK(says(judge(src), "source field 3 (linktype) at byte 2: wire type 2 does not match"));
}

TEST(frame_batch_counts_unpacked_and_split_columns_and_canonicalises_them) {
  Bytes m;
  field(m, 3, source("n", false));
  field(m, 4, Bytes(7, 1));
  for (uint32_t len : {3u, 4u}) {
    m.push_back((5 << 3) | 5);  // caplen unpacked
    const Bytes v = le<uint32_t>({len});
    m.insert(m.end(), v.begin(), v.end());
  }
  field(m, 6, le<uint32_t>({3}));
  field(m, 6, le<uint32_t>({4}));
  m.push_back((7 << 3) | 1);
  const Bytes t1 = le<uint64_t>({5});
  m.insert(m.end(), t1.begin(), t1.end());
  field(m, 7, le<uint64_t>({6}));
  field(m, 8, le<uint32_t>({0, 0}));
  FrameBatchLayout l;
  CHECK_EQ(check_frame_batch(m.data(), m.size(), &l), std::string());
  CHECK_EQ(l.frame_count, 2u);
  Bytes canonical;
  write_frame_batch(m.data(), l, canonical);
  FrameBatchLayout c;
  CHECK_EQ(check_frame_batch(canonical.data(), canonical.size(), &c), std::string());
  CHECK_EQ(c.frame_count, 2u);
  CHECK_EQ(c.caplen.size(), 1u);
  CHECK(canonical.size() < m.size());
}

TEST(frame_batch_judges_every_prefix_of_a_valid_batch_within_its_bytes) {
  const Bytes m = good();
  size_t valid = 0;
  for (size_t n = 0; n < m.size(); ++n) {
    const Bytes prefix(m.begin(), m.begin() + static_cast<long>(n));  // exact size: ASan sees any overread
    if (judge(prefix).empty()) ++valid;
  }
  // only prefixes ending on a field boundary before the columns (no frames yet) are whole batches
  CHECK(valid > 0);
  CHECK(valid < 8);
}
