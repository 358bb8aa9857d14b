// FileReader on crafted bytes: pcap µs/ns in both byte orders, Kuznetzov records, pcapng with
// two sections of different byte order, mixed link types, timestamp resolutions and options,
// and every kind of damage we name in an error.
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "file_reader.h"

using namespace podspan;

namespace {

struct Writer {
  std::vector<uint8_t> b;
  bool big = false;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) {
    if (big) { u8(v >> 8); u8(v & 0xff); } else { u8(v & 0xff); u8(v >> 8); }
  }
  void u32(uint32_t v) {
    if (big) { u16(v >> 16); u16(v & 0xffff); } else { u16(v & 0xffff); u16(v >> 16); }
  }
  void bytes(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
  void pad() { while (b.size() % 4) b.push_back(0); }
};

std::vector<uint8_t> pcap(bool big, bool nano, bool kuznetzov, int packets, uint32_t linktype = 1) {
  Writer w;
  w.big = big;
  w.u32(kuznetzov ? 0xa1b2cd34 : nano ? 0xa1b23c4d : 0xa1b2c3d4);
  w.u16(2); w.u16(4); w.u32(0); w.u32(0); w.u32(65535); w.u32(linktype);
  for (int i = 0; i < packets; ++i) {
    w.u32(1000 + i); w.u32(nano ? 123456789 : 123456); w.u32(10 + i); w.u32(100 + i);
    if (kuznetzov) { w.u32(7); w.u16(0x0800); w.u8(0); w.u8(0); }
    for (int k = 0; k < 10 + i; ++k) w.u8(static_cast<uint8_t>(i));
  }
  return w.b;
}

// A pcapng block: type, total length, body, total length.
void block(Writer& w, uint32_t type, const std::vector<uint8_t>& body) {
  w.u32(type);
  w.u32(static_cast<uint32_t>(body.size() + 12));
  w.b.insert(w.b.end(), body.begin(), body.end());
  w.u32(static_cast<uint32_t>(body.size() + 12));
}

Writer body(bool big) {
  Writer w;
  w.big = big;
  return w;
}

void shb(Writer& w, const std::string& comment, uint16_t major = 1) {
  Writer s = body(w.big);
  s.u32(0x1a2b3c4d); s.u16(major); s.u16(0); s.u32(0xffffffff); s.u32(0xffffffff);
  if (!comment.empty()) { s.u16(1); s.u16(static_cast<uint16_t>(comment.size())); s.bytes(comment); s.pad(); }
  s.u16(0); s.u16(0);
  block(w, 0x0a0d0d0a, s.b);
}

void idb(Writer& w, uint16_t linktype, const std::string& name, int tsresol = -1, bool with_comment = false) {
  Writer s = body(w.big);
  s.u16(linktype); s.u16(0); s.u32(262144);
  s.u16(2); s.u16(static_cast<uint16_t>(name.size())); s.bytes(name); s.pad();
  if (tsresol >= 0) { s.u16(9); s.u16(1); s.u8(static_cast<uint8_t>(tsresol)); s.pad(); }
  if (with_comment) { s.u16(1); s.u16(5); s.bytes("hello"); s.pad(); }
  s.u16(0); s.u16(0);
  block(w, 1, s.b);
}

void epb(Writer& w, uint32_t iface, uint64_t ts, uint32_t caplen, const std::string& comment = "") {
  Writer s = body(w.big);
  s.u32(iface); s.u32(static_cast<uint32_t>(ts >> 32)); s.u32(static_cast<uint32_t>(ts)); s.u32(caplen); s.u32(caplen + 5);
  for (uint32_t i = 0; i < caplen; ++i) s.u8(0xab);
  s.pad();
  if (!comment.empty()) { s.u16(1); s.u16(static_cast<uint16_t>(comment.size())); s.bytes(comment); s.pad(); s.u16(0); s.u16(0); }
  block(w, 6, s.b);
}

struct All {
  std::vector<PacketRecord> records;
  std::vector<std::vector<uint8_t>> options;
  ReadStatus last = ReadStatus::kOk;
};

All read_all(FileReader& r) {
  All a;
  Batch b;
  for (;;) {
    a.last = r.read(b, 3, 1 << 20);  // small batches to cross batch boundaries
    for (const auto& rec : b.records) {
      a.records.push_back(rec);
      a.options.emplace_back(b.data.begin() + rec.offset + rec.caplen, b.data.begin() + rec.offset + rec.caplen + rec.optlen);
    }
    if (a.last != ReadStatus::kOk) return a;
  }
}

std::string open_error(const std::vector<uint8_t>& bytes) {
  try {
    FileReader::from_memory(bytes.data(), bytes.size(), "t.cap");
  } catch (const CaptureError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(reader_pcap_all_byte_orders_and_resolutions) {
  for (bool big : {false, true}) {
    for (bool nano : {false, true}) {
      auto bytes = pcap(big, nano, false, 5);
      auto r = FileReader::from_memory(bytes.data(), bytes.size(), "t.pcap");
      CHECK(r->format() == FileReader::Format::kPcap);
      CHECK_EQ(r->nanosecond(), nano);
      All a = read_all(*r);
      CHECK(a.last == ReadStatus::kEnd);
      CHECK_EQ(a.records.size(), 5u);
      CHECK_EQ(a.records[4].caplen, 14u);
      CHECK_EQ(a.records[4].origlen, 104u);
      CHECK_EQ(a.records[4].ts_ns, 1004ull * 1000000000ull + (nano ? 123456789ull : 123456000ull));
      CHECK_EQ(r->interfaces().size(), 1u);
      CHECK_EQ(r->interfaces()[0].linktype, 1);
    }
  }
}

TEST(reader_pcap_kuznetzov_records_skip_their_extra_bytes) {
  auto bytes = pcap(false, false, true, 3);
  auto r = FileReader::from_memory(bytes.data(), bytes.size(), "k.pcap");
  All a = read_all(*r);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK_EQ(a.records.size(), 3u);
  CHECK_EQ(a.records[2].caplen, 12u);
}

TEST(reader_pcap_damage_is_reported_after_the_good_packets) {
  auto bytes = pcap(false, false, false, 4);
  bytes.resize(bytes.size() - 3);
  auto r = FileReader::from_memory(bytes.data(), bytes.size(), "cut.pcap");
  All a = read_all(*r);
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.records.size(), 3u);
  CHECK(r->error().rfind("cut.pcap: file ends in the middle of a packet record", 0) == 0);

  auto bogus = pcap(false, false, false, 2);
  const uint32_t huge = 0xfffffff0;
  std::memcpy(bogus.data() + 24 + 16 + 10 + 8, &huge, 4);  // caplen of the second record
  auto r2 = FileReader::from_memory(bogus.data(), bogus.size(), "bogus.pcap");
  All b = read_all(*r2);
  CHECK(b.last == ReadStatus::kError);
  CHECK_EQ(b.records.size(), 1u);
  CHECK(r2->error().find("captured length 4294967280 is larger than the maximum 262144 at offset 50") != std::string::npos);
}

TEST(reader_rejects_bad_headers_with_the_name) {
  CHECK_EQ(open_error({'h', 'e', 'l', 'l', 'o', '!', '!', '!'}), std::string("t.cap: not a pcap or pcapng file (unknown magic 0x6c6c6568)"));
  auto v1 = pcap(false, false, false, 0);
  v1[4] = 1;
  CHECK_EQ(open_error(v1), std::string("t.cap: unsupported pcap version 1.4"));
  auto reserved = pcap(false, false, false, 0, 0x00010001);
  CHECK(open_error(reserved).find("reserved bits of the link type field") != std::string::npos);
  CHECK_EQ(open_error({0xd4, 0xc3, 0xb2, 0xa1, 2, 0}), std::string("t.cap: truncated header"));
  CHECK_EQ(open_error({}), std::string("t.cap: empty file, not a pcap or pcapng file"));
}

TEST(reader_pcapng_sections_of_both_byte_orders_and_mixed_link_types) {
  Writer w;
  shb(w, "first section");
  idb(w, 1, "eth0", -1, true);
  idb(w, 101, "tun0", 9);
  epb(w, 0, 1500000000123456ull, 60, "a packet comment");
  epb(w, 1, 1500000000123456789ull, 40);
  Writer be;
  be.big = true;
  shb(be, "");
  idb(be, 113, "any", 0x80 | 20);  // 2^-20 s units
  epb(be, 0, (uint64_t{1500000000} << 20) + (uint64_t{1} << 19), 20);  // + 0.5 s
  w.b.insert(w.b.end(), be.b.begin(), be.b.end());

  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcapng");
  CHECK_EQ(r->interfaces().size(), 2u);  // IDBs after the first SHB are known at open
  All a = read_all(*r);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK_EQ(a.records.size(), 3u);
  CHECK_EQ(r->interfaces().size(), 3u);
  CHECK_EQ(r->sections().size(), 2u);
  CHECK_EQ(r->sections()[0].comments.size(), 1u);
  CHECK_EQ(r->interfaces()[0].name, std::string("eth0"));
  CHECK_EQ(r->interfaces()[1].linktype, 101);
  CHECK_EQ(r->interfaces()[2].linktype, 113);
  CHECK_EQ(r->interfaces()[2].name, std::string("any"));
  CHECK(!r->interfaces()[0].extra_options.empty());  // the IDB comment is kept
  CHECK_EQ(a.records[0].ts_ns, 1500000000123456000ull);
  CHECK_EQ(a.records[1].ts_ns, 1500000000123456789ull);
  CHECK_EQ(a.records[2].ts_ns, 1500000000500000000ull);
  CHECK_EQ(a.records[0].iface, 0u);
  CHECK_EQ(a.records[1].iface, 1u);
  CHECK_EQ(a.records[2].iface, 2u);
  CHECK_EQ(a.records[0].origlen, 65u);
  CHECK_EQ(a.options[0].size(), 4u + 16u);  // opt_comment TLV, 16 bytes of text
  CHECK_EQ(std::string(a.options[0].begin() + 4, a.options[0].end()), std::string("a packet comment"));
}

TEST(reader_pcapng_damage) {
  {
    Writer w;
    shb(w, "");
    idb(w, 1, "eth0");
    epb(w, 3, 0, 10);  // interface 3 is not defined
    auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcapng");
    All a = read_all(*r);
    CHECK(a.last == ReadStatus::kError);
    CHECK(r->error().find("refers to interface 3") != std::string::npos);
  }
  {
    Writer w;
    shb(w, "x", 2);
    CHECK(open_error(w.b).find("unsupported pcapng version 2.0") != std::string::npos);
  }
  {
    Writer w;
    shb(w, "");
    idb(w, 1, "eth0");
    epb(w, 0, 0, 10);
    epb(w, 0, 0, 10);
    w.b[w.b.size() - 1] ^= 0x7f;  // trailing length differs
    auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcapng");
    All a = read_all(*r);
    CHECK(a.last == ReadStatus::kError);
    CHECK_EQ(a.records.size(), 1u);
    CHECK(r->error().find("trailing length") != std::string::npos);
  }
  {
    Writer w;
    shb(w, "");
    Writer s = body(false);
    s.u16(1); s.u16(0); s.u32(0);
    s.u16(2); s.u16(200); s.bytes("eth0");  // option longer than the block
    s.pad();
    block(w, 1, s.b);
    auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcapng");
    All a = read_all(*r);
    CHECK(a.last == ReadStatus::kError);
    CHECK(r->error().find("runs past the end of its block") != std::string::npos);
  }
}

TEST(reader_opens_files_and_names_missing_ones) {
  bool threw = false;
  try {
    FileReader::open("/nonexistent/x.pcap");
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(e.kind() == ErrorKind::kInputFile);
    CHECK_EQ(std::string(e.what()), std::string("/nonexistent/x.pcap: cannot open: No such file or directory"));
  }
  CHECK(threw);
}

TEST(reader_pcapng_simple_and_obsolete_packet_blocks) {
  Writer w;
  shb(w, "");
  idb(w, 1, "eth0");
  {
    Writer s = body(false);  // SPB: original length 70, 64 bytes present (snaplen 262144)
    s.u32(70);
    for (int i = 0; i < 64; ++i) s.u8(1);
    block(w, 3, s.b);
  }
  {
    Writer s = body(false);  // obsolete PB: iface 0, drops 0, ts, caplen 6, len 9
    s.u16(0); s.u16(0); s.u32(0); s.u32(1000000); s.u32(6); s.u32(9);
    for (int i = 0; i < 6; ++i) s.u8(2);
    s.pad();
    block(w, 2, s.b);
  }
  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcapng");
  All a = read_all(*r);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK_EQ(a.records.size(), 2u);
  CHECK_EQ(a.records[0].caplen, 64u);
  CHECK_EQ(a.records[0].origlen, 70u);
  CHECK_EQ(a.records[1].caplen, 6u);
  CHECK_EQ(a.records[1].origlen, 9u);
  CHECK_EQ(a.records[1].ts_ns, 1000000000ull);  // 10^6 µs
}
