// FileReader (our pcap / pcapng reader) on files built byte by byte in the tests: pcap µs/ns
// in both byte orders, Kuznetzov records, old versions with swapped lengths, pcapng with two
// sections of different byte order, mixed link types, timestamp resolutions and offsets,
// SPB / obsolete PB / skipped blocks, options kept verbatim, and every kind of damage with
// its exact message. One more test reads the third-party corpus when it is present.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "common/errors.h"
#include "pcap/file_reader.h"

using namespace podspan;

namespace {

// Builds bytes in either byte order.
struct W {
  std::vector<uint8_t> b;
  bool big = false;

  explicit W(bool big_endian = false) : big(big_endian) {}
  size_t size() const { return b.size(); }
  W& u8(uint8_t v) { b.push_back(v); return *this; }
  W& u16(uint16_t v) {
    if (big) { u8(v >> 8); u8(v & 0xff); } else { u8(v & 0xff); u8(v >> 8); }
    return *this;
  }
  W& u32(uint32_t v) {
    if (big) { u16(v >> 16); u16(v & 0xffff); } else { u16(v & 0xffff); u16(v >> 16); }
    return *this;
  }
  W& u64(uint64_t v) {
    if (big) { u32(static_cast<uint32_t>(v >> 32)); u32(static_cast<uint32_t>(v)); } else { u32(static_cast<uint32_t>(v)); u32(static_cast<uint32_t>(v >> 32)); }
    return *this;
  }
  W& raw(const std::vector<uint8_t>& v) { b.insert(b.end(), v.begin(), v.end()); return *this; }
  W& str(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  W& fill(size_t n, uint8_t v) { b.insert(b.end(), n, v); return *this; }
  W& pad() { while (b.size() % 4) b.push_back(0); return *this; }
  W& append(const W& o) { return raw(o.b); }
};

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Fixed-size values in a given byte order, as option values.
std::vector<uint8_t> le32(uint32_t v) { W w(false); w.u32(v); return w.b; }
std::vector<uint8_t> ord64(bool big, uint64_t v) { W w(big); w.u64(v); return w.b; }

// ---- pcap

struct PcapRec {
  uint32_t sec, frac, caplen, origlen;
};

W pcap_header(bool big, uint32_t magic, uint16_t major = 2, uint16_t minor = 4, uint32_t snaplen = 65535,
              uint32_t linktype = 1) {
  W w(big);
  w.u32(magic).u16(major).u16(minor).u32(0).u32(0).u32(snaplen).u32(linktype);
  return w;
}

// Packet i's bytes are all (i + 1); Kuznetzov records carry ifindex 7, protocol 0x0800, type 4.
void pcap_record(W& w, const PcapRec& r, uint8_t fill, bool kuznetzov = false) {
  w.u32(r.sec).u32(r.frac).u32(r.caplen).u32(r.origlen);
  if (kuznetzov) w.u32(7).u16(0x0800).u8(4).u8(0);
  w.fill(r.caplen, fill);
}

// ---- pcapng

using Opts = std::vector<std::pair<uint16_t, std::vector<uint8_t>>>;

void put_options(W& w, const Opts& opts) {
  if (opts.empty()) return;
  for (const auto& o : opts) {
    w.u16(o.first).u16(static_cast<uint16_t>(o.second.size())).raw(o.second).pad();
  }
  w.u16(0).u16(0);
}

void block(W& w, uint32_t type, const W& body) {
  const uint32_t total = static_cast<uint32_t>(body.size() + 12);
  w.u32(type).u32(total).append(body).u32(total);
}

void shb(W& w, const Opts& opts = {}, uint16_t major = 1, uint16_t minor = 0) {
  W s(w.big);
  s.u32(0x1a2b3c4d).u16(major).u16(minor).u64(~uint64_t{0});
  put_options(s, opts);
  block(w, 0x0a0d0d0a, s);
}

void idb(W& w, uint16_t linktype, uint32_t snaplen, const Opts& opts = {}) {
  W s(w.big);
  s.u16(linktype).u16(0).u32(snaplen);
  put_options(s, opts);
  block(w, 1, s);
}

void epb(W& w, uint32_t iface, uint64_t ts, const std::vector<uint8_t>& data, uint32_t origlen, const Opts& opts = {}) {
  W s(w.big);
  s.u32(iface).u32(static_cast<uint32_t>(ts >> 32)).u32(static_cast<uint32_t>(ts));
  s.u32(static_cast<uint32_t>(data.size())).u32(origlen).raw(data).pad();
  put_options(s, opts);
  block(w, 6, s);
}

void spb(W& w, uint32_t origlen, size_t present, uint8_t fill) {
  W s(w.big);
  s.u32(origlen).fill(present, fill).pad();
  block(w, 3, s);
}

void obsolete_pb(W& w, uint16_t iface, uint16_t drops, uint64_t ts, const std::vector<uint8_t>& data,
                 uint32_t origlen, const Opts& opts = {}) {
  W s(w.big);
  s.u16(iface).u16(drops).u32(static_cast<uint32_t>(ts >> 32)).u32(static_cast<uint32_t>(ts));
  s.u32(static_cast<uint32_t>(data.size())).u32(origlen).raw(data).pad();
  put_options(s, opts);
  block(w, 2, s);
}

void other_block(W& w, uint32_t type, size_t body_len) {
  W s(w.big);
  s.fill(body_len, 0x5a);
  block(w, type, s);
}

// An option as the reader returns it: code and length in host byte order, value verbatim,
// zero padded to 4.
std::vector<uint8_t> host_tlv(uint16_t code, const std::vector<uint8_t>& value) {
  std::vector<uint8_t> out(4);
  const uint16_t len = static_cast<uint16_t>(value.size());
  std::memcpy(out.data(), &code, 2);
  std::memcpy(out.data() + 2, &len, 2);
  out.insert(out.end(), value.begin(), value.end());
  while (out.size() % 4) out.push_back(0);
  return out;
}
std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- reading

struct Packet {
  PacketRecord rec;
  std::vector<uint8_t> data, opts;
};

struct All {
  std::vector<Packet> packets;
  ReadStatus last = ReadStatus::kOk;
  std::string error;
  bool bounds_ok = true;
  size_t empty_ok = 0;  // kOk reads that carried no packet (the contract says there are none)
};

All read_all(FileReader& r, size_t max_packets = 3, size_t max_bytes = 1 << 20) {
  All a;
  Batch b;
  for (int guard = 0; guard < 1000000; ++guard) {
    a.last = r.read(b, max_packets, max_bytes);
    if (a.last == ReadStatus::kOk && b.records.empty()) ++a.empty_ok;
    if (b.used > b.data.size()) a.bounds_ok = false;
    for (const auto& rec : b.records) {
      const size_t end = static_cast<size_t>(rec.offset) + rec.caplen + rec.optlen;
      if (end > b.used || rec.iface >= r.interfaces().size()) {
        a.bounds_ok = false;
        continue;
      }
      Packet p;
      p.rec = rec;
      p.data.assign(b.data.begin() + rec.offset, b.data.begin() + rec.offset + rec.caplen);
      p.opts.assign(b.data.begin() + rec.offset + rec.caplen, b.data.begin() + end);
      a.packets.push_back(std::move(p));
    }
    if (a.last != ReadStatus::kOk) break;
  }
  a.error = r.error();
  return a;
}

All read_bytes(const std::vector<uint8_t>& bytes, const std::string& name, size_t max_packets = 3) {
  auto r = FileReader::from_memory(bytes.data(), bytes.size(), name);
  return read_all(*r, max_packets);
}

struct OpenError {
  bool threw = false;
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

OpenError open_error(const std::vector<uint8_t>& bytes, const std::string& name = "t.cap") {
  OpenError e;
  try {
    FileReader::from_memory(bytes.data(), bytes.size(), name);
  } catch (const CaptureError& ce) {
    e.threw = true;
    e.kind = ce.kind();
    e.message = ce.what();
  }
  return e;
}

std::string temp_path(const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/podspan_file_reader_" + std::to_string(getpid()) + suffix;
}

bool write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

constexpr uint64_t kSec = 1000000000ull;

}  // namespace

// ---------------------------------------------------------------------------------------------
// pcap

TEST(file_reader_pcap_byte_orders_and_resolutions) {
  for (bool big : {false, true}) {
    for (bool nano : {false, true}) {
      W w = pcap_header(big, nano ? 0xa1b23c4d : 0xa1b2c3d4, 2, 4, 65535, 1);
      for (uint32_t i = 0; i < 7; ++i) {
        pcap_record(w, {1700000000 + i, nano ? 999999999 - i : 999999 - i, 20 + i, 60 + i}, static_cast<uint8_t>(i + 1));
      }
      auto r = FileReader::from_memory(w.b.data(), w.b.size(), "t.pcap");
      CHECK(r->format() == FileReader::Format::kPcap);
      CHECK_EQ(r->nanosecond(), nano);
      CHECK_EQ(r->interfaces().size(), 1u);
      CHECK_EQ(r->interfaces()[0].linktype, 1);
      CHECK_EQ(r->interfaces()[0].snaplen, 65535u);
      CHECK_EQ(r->sections().size(), 1u);
      All a = read_all(*r);
      CHECK(a.last == ReadStatus::kEnd);
      CHECK(a.bounds_ok);
      CHECK_EQ(a.packets.size(), 7u);
      for (uint32_t i = 0; i < a.packets.size(); ++i) {
        const PacketRecord& p = a.packets[i].rec;
        CHECK_EQ(p.caplen, 20 + i);
        CHECK_EQ(p.origlen, 60 + i);
        CHECK_EQ(p.iface, 0u);
        CHECK_EQ(p.optlen, 0u);
        CHECK_EQ(p.ts_ns, (1700000000ull + i) * kSec + (nano ? 999999999ull - i : (999999ull - i) * 1000));
        CHECK(a.packets[i].data == std::vector<uint8_t>(20 + i, static_cast<uint8_t>(i + 1)));
      }
    }
  }
}

TEST(file_reader_pcap_kuznetzov_records_skip_their_extra_bytes) {
  for (bool big : {false, true}) {
    W w = pcap_header(big, 0xa1b2cd34);
    pcap_record(w, {10, 5, 14, 60}, 0xaa, true);
    pcap_record(w, {11, 6, 0, 0}, 0, true);  // empty packet
    pcap_record(w, {12, 7, 3, 3}, 0xcc, true);
    All a = read_bytes(w.b, "k.pcap");
    CHECK(a.last == ReadStatus::kEnd);
    CHECK_EQ(a.packets.size(), 3u);
    if (a.packets.size() != 3) continue;
    CHECK(a.packets[0].data == std::vector<uint8_t>(14, 0xaa));
    CHECK_EQ(a.packets[0].rec.origlen, 60u);
    CHECK_EQ(a.packets[0].rec.ts_ns, 10 * kSec + 5000);
    CHECK_EQ(a.packets[1].rec.caplen, 0u);
    CHECK(a.packets[2].data == std::vector<uint8_t>(3, 0xcc));
    CHECK_EQ(a.packets[2].rec.ts_ns, 12 * kSec + 7000);
  }
}

TEST(file_reader_pcap_link_type_field) {
  // FCS information in the upper bits is not part of the link type.
  W fcs = pcap_header(false, 0xa1b2c3d4, 2, 4, 65535, 0x14000000u | 105);
  auto r = FileReader::from_memory(fcs.b.data(), fcs.b.size(), "fcs.pcap");
  CHECK_EQ(r->interfaces()[0].linktype, 105);
  // Reserved bits set: libpcap's linktype-reserved-field-not-zero.pcap case.
  W reserved = pcap_header(true, 0xa1b2c3d4, 2, 4, 65535, 0x00300000u | 1);
  OpenError e = open_error(reserved.b, "res.pcap");
  CHECK(e.threw);
  CHECK(e.kind == ErrorKind::kCorruptFile);
  CHECK_EQ(e.message, std::string("res.pcap: reserved bits of the link type field are set (0x00300001)"));
}

TEST(file_reader_pcap_versions) {
  W v1 = pcap_header(false, 0xa1b2c3d4, 1, 4);
  OpenError e = open_error(v1.b, "v1.pcap");
  CHECK(e.kind == ErrorKind::kCorruptFile);
  CHECK_EQ(e.message, std::string("v1.pcap: unsupported pcap version 1.4"));
  W v3 = pcap_header(true, 0xa1b23c4d, 3, 0);
  CHECK_EQ(open_error(v3.b, "v3.pcap").message, std::string("v3.pcap: unsupported pcap version 3.0"));

  // 2.5 (libpcap's pcap-invalid-version-2.pcap) is read, like Wireshark does.
  W v25 = pcap_header(false, 0xa1b2c3d4, 2, 5);
  pcap_record(v25, {1, 0, 4, 9}, 1);
  All a = read_bytes(v25.b, "v25.pcap");
  CHECK_EQ(a.packets.size(), 1u);
  CHECK_EQ(a.packets[0].rec.caplen, 4u);
  CHECK_EQ(a.packets[0].rec.origlen, 9u);

  // Before 2.3 the record had len before caplen; in 2.3 either order occurs (libpcap).
  W v22 = pcap_header(false, 0xa1b2c3d4, 2, 2);
  v22.u32(1).u32(0).u32(9).u32(4).fill(4, 1);  // len 9, caplen 4
  All b = read_bytes(v22.b, "v22.pcap");
  CHECK(b.last == ReadStatus::kEnd);
  CHECK_EQ(b.packets.size(), 1u);
  CHECK_EQ(b.packets[0].rec.caplen, 4u);
  CHECK_EQ(b.packets[0].rec.origlen, 9u);
  W v23 = pcap_header(true, 0xa1b2c3d4, 2, 3);
  v23.u32(1).u32(0).u32(9).u32(4).fill(4, 1);  // swapped: caplen > len
  v23.u32(2).u32(0).u32(3).u32(8).fill(3, 2);  // in order
  All c = read_bytes(v23.b, "v23.pcap");
  CHECK(c.last == ReadStatus::kEnd);
  CHECK_EQ(c.packets.size(), 2u);
  CHECK_EQ(c.packets[0].rec.caplen, 4u);
  CHECK_EQ(c.packets[0].rec.origlen, 9u);
  CHECK_EQ(c.packets[1].rec.caplen, 3u);
  CHECK_EQ(c.packets[1].rec.origlen, 8u);
}

TEST(file_reader_pcap_truncated_records) {
  W w = pcap_header(false, 0xa1b2c3d4);
  pcap_record(w, {1, 0, 10, 10}, 1);   // at 24
  pcap_record(w, {2, 0, 10, 10}, 2);   // at 50
  pcap_record(w, {3, 0, 10, 10}, 3);   // at 76
  std::vector<uint8_t> cut_data(w.b.begin(), w.b.end() - 3);
  All a = read_bytes(cut_data, "cut.pcap", 1);
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.packets.size(), 2u);
  CHECK_EQ(a.error, std::string("cut.pcap: file ends in the middle of a packet record at offset 76 (needed 26 bytes, have 23)"));

  std::vector<uint8_t> cut_header(w.b.begin(), w.b.begin() + 76 + 5);
  All b = read_bytes(cut_header, "cut.pcap");
  CHECK(b.last == ReadStatus::kError);
  CHECK_EQ(b.packets.size(), 2u);
  CHECK_EQ(b.error, std::string("cut.pcap: file ends in the middle of a packet record at offset 76 (needed 16 bytes, have 5)"));

  // Kuznetzov headers are 24 bytes.
  W k = pcap_header(true, 0xa1b2cd34);
  pcap_record(k, {1, 0, 10, 10}, 1, true);
  k.b.resize(k.b.size() - 5);
  All c = read_bytes(k.b, "k.pcap");
  CHECK_EQ(c.packets.size(), 0u);
  CHECK_EQ(c.error, std::string("k.pcap: file ends in the middle of a packet record at offset 24 (needed 34 bytes, have 29)"));
}

TEST(file_reader_pcap_bogus_captured_length) {
  W w = pcap_header(false, 0xa1b2c3d4, 2, 4, 65535);
  pcap_record(w, {1, 0, 10, 10}, 1);
  w.u32(2).u32(0).u32(0xffffffff).u32(60).fill(100, 0);  // at offset 50
  All a = read_bytes(w.b, "bogus.pcap");
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.packets.size(), 1u);
  CHECK_EQ(a.error, std::string("bogus.pcap: captured length 4294967295 is larger than the maximum 262144 at offset 50"));

  // The limit is max(snaplen, 262144): a larger snaplen allows larger records.
  W big = pcap_header(true, 0xa1b2c3d4, 2, 4, 300000);
  pcap_record(big, {1, 0, 270000, 270000}, 7);
  big.u32(2).u32(0).u32(300001).u32(300001);
  All b = read_bytes(big.b, "big.pcap");
  CHECK(b.last == ReadStatus::kError);
  CHECK_EQ(b.packets.size(), 1u);
  CHECK_EQ(b.packets[0].rec.caplen, 270000u);
  CHECK_EQ(b.error, std::string("big.pcap: captured length 300001 is larger than the maximum 300000 at offset 270040"));
  // A record exactly at 262144 with a small snaplen is fine (libpcap accepts it too).
  W edge = pcap_header(false, 0xa1b2c3d4, 2, 4, 96);
  pcap_record(edge, {1, 0, 262144, 262144}, 1);
  All c = read_bytes(edge.b, "edge.pcap");
  CHECK(c.last == ReadStatus::kEnd);
  CHECK_EQ(c.packets.size(), 1u);
}

TEST(file_reader_errors_stay_and_end_stays) {
  W w = pcap_header(false, 0xa1b2c3d4);
  pcap_record(w, {1, 0, 10, 10}, 1);
  w.u32(0);  // 4 bytes of a header
  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "e.pcap");
  Batch b;
  CHECK(r->read(b, 10, 1 << 20) == ReadStatus::kError);
  CHECK_EQ(b.size(), 1u);
  CHECK(r->read(b, 10, 1 << 20) == ReadStatus::kError);
  CHECK_EQ(b.size(), 0u);
  CHECK_EQ(r->error(), std::string("e.pcap: file ends in the middle of a packet record at offset 50 (needed 16 bytes, have 4)"));

  W ok = pcap_header(false, 0xa1b2c3d4);
  pcap_record(ok, {1, 0, 10, 10}, 1);
  auto r2 = FileReader::from_memory(ok.b.data(), ok.b.size(), "ok.pcap");
  CHECK(r2->read(b, 1, 1 << 20) == ReadStatus::kOk);  // full batch: more may follow
  CHECK_EQ(b.size(), 1u);
  CHECK(r2->read(b, 1, 1 << 20) == ReadStatus::kEnd);
  CHECK_EQ(b.size(), 0u);
  CHECK(r2->read(b, 1, 1 << 20) == ReadStatus::kEnd);
  CHECK(r2->error().empty());
}

TEST(file_reader_batch_limits_and_reuse) {
  W w = pcap_header(false, 0xa1b2c3d4);
  for (uint32_t i = 0; i < 100; ++i) pcap_record(w, {i, 0, 100, 100}, static_cast<uint8_t>(i));
  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "b.pcap");
  Batch b;
  // max_packets
  CHECK(r->read(b, 7, 1 << 20) == ReadStatus::kOk);
  CHECK_EQ(b.size(), 7u);
  // max_bytes: stops once used reaches it (the packet that crosses it is kept)
  CHECK(r->read(b, 1000, 250) == ReadStatus::kOk);
  CHECK_EQ(b.size(), 3u);
  CHECK_EQ(b.used, 300u);
  CHECK_EQ(b.records[0].ts_ns, 7 * kSec);
  // Steady state: the same batch is refilled in place.
  CHECK(r->read(b, 10, 1 << 20) == ReadStatus::kOk);
  const uint8_t* data = b.data.data();
  const PacketRecord* recs = b.records.data();
  size_t n = 20;
  ReadStatus st;
  while ((st = r->read(b, 10, 1 << 20)) == ReadStatus::kOk) {
    CHECK(b.data.data() == data);
    CHECK(b.records.data() == recs);
    n += b.size();
  }
  CHECK(st == ReadStatus::kEnd);
  CHECK_EQ(n + b.size(), 100u);
}

TEST(file_reader_borrows_packets_of_a_mapped_pcap_instead_of_copying) {
  W w = pcap_header(false, 0xa1b2c3d4);
  for (uint32_t i = 0; i < 300; ++i) pcap_record(w, {i, 0, 60 + i, 60 + i}, static_cast<uint8_t>(i));
  const std::string path = temp_path(".pcap");
  CHECK(write_file(path, w.b));
  auto copied = FileReader::open(path), borrowed = FileReader::open(path);
  Batch a, b;
  b.may_borrow = true;
  size_t n = 0;
  for (;;) {
    const ReadStatus sa = copied->read(a, 64, 4096), sb = borrowed->read(b, 64, 4096);
    CHECK(sa == sb);
    CHECK_EQ(a.size(), b.size());
    CHECK_EQ(a.used, b.used);  // the same batch limits either way
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      CHECK_EQ(a.records[i].ts_ns, b.records[i].ts_ns);
      CHECK_EQ(a.records[i].caplen, b.records[i].caplen);
      CHECK(std::memcmp(a.bytes(a.records[i]), b.bytes(b.records[i]), a.records[i].caplen) == 0);
    }
    if (!b.empty()) CHECK(b.borrowed != nullptr);
    n += b.size();
    if (sb != ReadStatus::kOk) break;
  }
  CHECK_EQ(n, 300u);
  CHECK(b.data.empty());  // nothing was copied
  std::remove(path.c_str());
}

namespace {
// Resident kB of the mapping holding `addr` (/proc/self/smaps), or -1 if none holds it.
long mapped_rss_kb(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(addr);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2 && line.find(':') > line.find(' ')) {
      inside = a >= start && a < end;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::atol(line.c_str() + 4);
    }
  }
  return -1;
}
// How many mappings of `path` the process holds (/proc/self/maps).
// Whether madvise(MADV_POPULATE_READ) is known here (Linux 5.14 and later).
bool kernel_populates_mappings() {
#ifdef MADV_POPULATE_READ
  void* m = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
  const bool ok = madvise(m, 4096, MADV_POPULATE_READ) == 0;
  munmap(m, 4096);
  return ok;
#else
  return false;
#endif
}

int mappings_of(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) ++n;
  }
  return n;
}
// A pcap file of `packets` 1,500-byte packets, the i-th filled with the byte i * step, 1 s apart.
std::string numbered_capture(const char* suffix, uint32_t packets, uint32_t step) {
  W w = pcap_header(false, 0xa1b2c3d4);
  for (uint32_t i = 0; i < packets; ++i) pcap_record(w, {i, 0, 1500, 1500}, static_cast<uint8_t>(i * step));
  const std::string path = temp_path(suffix);
  CHECK(write_file(path, w.b));
  return path;
}
}  // namespace

TEST(file_reader_large_mapping_is_torn_down_whole_when_the_reader_goes) {
  // 72 MB: past the size from which two threads drop the pages before the unmap.
  constexpr uint32_t kPackets = 48000;
  const std::string path = numbered_capture("-large.pcap", kPackets, 1);
  {
    auto r = FileReader::open(path);
    CHECK_EQ(mappings_of(path), 1);
    Batch b;
    b.may_borrow = true;
    uint32_t n = 0;
    for (ReadStatus st = ReadStatus::kOk; st == ReadStatus::kOk;) {
      st = r->read(b, 256, 1 << 20);
      n += static_cast<uint32_t>(b.size());
    }
    CHECK_EQ(n, kPackets);
    r->tend_mapping(32u << 20, 32u << 20);  // part of it released already, as analytics does
  }
  CHECK_EQ(mappings_of(path), 0);
  std::remove(path.c_str());
}

TEST(file_reader_tend_mapping_from_another_thread_keeps_every_packet_and_frees_the_mapping) {
  // 24 MB of 1,500-byte packets, each filled with its number: read with packets lent from the
  // mapping while another thread keeps releasing everything behind the reader (lag 0) and
  // mapping in the 8 MiB ahead of it.
  constexpr uint32_t kPackets = 16000;
  const std::string path = numbered_capture("-release.pcap", kPackets, 7);
  auto kept = FileReader::open(path), released = FileReader::open(path);
  std::atomic<bool> done{false};
  std::thread releaser([&] {
    while (!done.load()) released->tend_mapping(0, 8u << 20);
  });
  Batch b;
  b.may_borrow = true;
  uint32_t n = 0, wrong = 0;
  for (ReadStatus st = ReadStatus::kOk; st == ReadStatus::kOk;) {
    st = released->read(b, 64, 1 << 20);
    for (const PacketRecord& rec : b.records) {
      const uint8_t* p = b.bytes(rec);
      const uint8_t want = static_cast<uint8_t>(n * 7);
      if (rec.caplen != 1500 || p[0] != want || p[1499] != want || rec.ts_ns != uint64_t(n) * kSec) ++wrong;
      ++n;
    }
  }
  done = true;
  releaser.join();
  CHECK_EQ(n, kPackets);
  CHECK_EQ(wrong, 0u);
  // The same file read without releases stays mapped; the released one keeps at most the last
  // 4 MiB step and what lies after it.
  All all = read_all(*kept, 64, 1 << 20);
  CHECK_EQ(all.packets.size(), size_t(kPackets));
  released->tend_mapping(0, 0);
  const long kept_kb = mapped_rss_kb(kept->contents()), released_kb = mapped_rss_kb(released->contents());
  CHECK(kept_kb > 20000);
  CHECK(released_kb >= 0 && released_kb <= 8 * 1024);
  kept.reset();
  released.reset();
  std::remove(path.c_str());
}

TEST(file_reader_tend_mapping_maps_in_ahead_of_the_reader) {
  // 16 MB: before anything is read, 8 MiB ahead are in the mapping's resident set after one
  // call (the reader will take no page fault there; 32 asked, at most 8 per call), the whole
  // file after a second.
  constexpr uint32_t kPackets = 10000;
  const std::string path = numbered_capture("-ahead.pcap", kPackets, 1);
  auto r = FileReader::open(path);
  const long before_kb = mapped_rss_kb(r->contents());
  r->tend_mapping(0, 32u << 20);
  const long after_kb = mapped_rss_kb(r->contents());
  r->tend_mapping(0, 32u << 20);
  const long whole_kb = mapped_rss_kb(r->contents());
  if (!kernel_populates_mappings()) {
    std::printf("  (this kernel has no MADV_POPULATE_READ: nothing is mapped ahead; checked that nothing failed)\n");
    CHECK_EQ(after_kb, before_kb);
    CHECK_EQ(whole_kb, before_kb);
  } else {
    // Opening maps the first pages in (the page cache's large folios: up to 2 MiB at once here).
    CHECK(before_kb >= 0 && before_kb <= 4 * 1024);
    CHECK(after_kb >= 8 * 1024 && after_kb <= 12 * 1024);
    CHECK(whole_kb >= 14 * 1024);  // the file: 14,805 kB
  }
  All all = read_all(*r, 64, 1 << 20);
  CHECK_EQ(all.packets.size(), size_t(kPackets));
  r.reset();
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------------------------
// open()

TEST(file_reader_rejects_what_is_not_a_capture_file) {
  OpenError e = open_error(bytes_of("hello, world, this is text"), "notes.txt");
  CHECK(e.kind == ErrorKind::kInputFile);
  uint32_t magic;
  std::memcpy(&magic, "hell", 4);
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", magic);
  CHECK_EQ(e.message, "notes.txt: not a pcap or pcapng file (unknown magic " + std::string(hex) + ")");

  e = open_error({});
  CHECK(e.kind == ErrorKind::kInputFile);
  CHECK_EQ(e.message, std::string("t.cap: empty file, not a pcap or pcapng file"));
  e = open_error(bytes_of("hi"));
  CHECK(e.kind == ErrorKind::kInputFile);
  CHECK_EQ(e.message, std::string("t.cap: not a pcap or pcapng file (only 2 bytes)"));

  // A pcap header shorter than 24 bytes, a pcapng one shorter than an SHB, a magic cut short.
  for (const auto& head : {std::vector<uint8_t>{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0},
                           std::vector<uint8_t>{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a},
                           std::vector<uint8_t>{0xa1, 0xb2, 0xc3}}) {
    e = open_error(head);
    CHECK(e.kind == ErrorKind::kCorruptFile);
    CHECK_EQ(e.message, std::string("t.cap: truncated header"));
  }
  // Starts like an SHB but has no byte-order magic: not pcapng.
  W fake(false);
  fake.u32(0x0a0d0d0a).u32(28).u32(0x12345678).fill(16, 0);
  e = open_error(fake.b);
  CHECK(e.kind == ErrorKind::kInputFile);
  CHECK_EQ(e.message, std::string("t.cap: not a pcap or pcapng file (pcapng section header with unknown byte-order magic 0x12345678)"));
}

TEST(file_reader_open_maps_files_and_names_them) {
  const std::string path = temp_path(".pcapng");
  W w(true);
  shb(w);
  idb(w, 1, 0, {{2, bytes_of("eth9")}});
  epb(w, 0, 5000000, std::vector<uint8_t>(33, 0x42), 33);
  CHECK(write_file(path, w.b));
  {
    auto r = FileReader::open(path);
    CHECK(r->format() == FileReader::Format::kPcapng);
    CHECK(r->nanosecond());
    CHECK_EQ(r->interfaces().size(), 1u);
    All a = read_all(*r);
    CHECK(a.last == ReadStatus::kEnd);
    CHECK_EQ(a.packets.size(), 1u);
    CHECK_EQ(a.packets[0].rec.ts_ns, 5 * kSec);
    CHECK(a.packets[0].data == std::vector<uint8_t>(33, 0x42));
  }
  // Damage is reported with the path.
  W cut = w;
  cut.b.resize(cut.b.size() - 8);
  CHECK(write_file(path, cut.b));
  {
    auto r = FileReader::open(path);
    All a = read_all(*r);
    CHECK(a.last == ReadStatus::kError);
    CHECK_EQ(a.error.rfind(path + ": file ends in the middle of a block at offset ", 0), 0u);
  }
  std::remove(path.c_str());

  auto open_fails = [](const std::string& p) {
    try {
      FileReader::open(p);
    } catch (const CaptureError& e) {
      CHECK(e.kind() == ErrorKind::kInputFile);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_EQ(open_fails("/nonexistent/x.pcap"), std::string("/nonexistent/x.pcap: cannot open: No such file or directory"));
  CHECK_EQ(open_fails("/"), std::string("/: is a directory"));
  const std::string empty = temp_path(".empty");
  CHECK(write_file(empty, {}));
  CHECK_EQ(open_fails(empty), empty + ": empty file, not a pcap or pcapng file");
  std::remove(empty.c_str());
}

TEST(file_reader_open_reads_pipes) {
  const std::string fifo = temp_path(".fifo");
  ::unlink(fifo.c_str());
  CHECK(mkfifo(fifo.c_str(), 0600) == 0);
  W w = pcap_header(false, 0xa1b2c3d4);
  for (uint32_t i = 0; i < 3000; ++i) pcap_record(w, {i, 0, 1000, 1000}, static_cast<uint8_t>(i));  // 3 MB > one read
  const pid_t child = fork();
  if (child == 0) {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    size_t done = 0;
    while (fd >= 0 && done < w.b.size()) {
      const ssize_t n = ::write(fd, w.b.data() + done, w.b.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    // 3 MB went through, so the reader had opened and sized the pipe: 1 MiB, not Linux's 64 KiB.
    _exit(done != w.b.size() ? 1 : fcntl(fd, F_GETPIPE_SZ) >= (1 << 20) ? 0 : 2);
  }
  CHECK(child > 0);
  size_t packets = 0;
  try {
    auto r = FileReader::open(fifo);
    All a = read_all(*r, 500);
    CHECK(a.last == ReadStatus::kEnd);
    packets = a.packets.size();
    if (packets == 3000) CHECK(a.packets[2999].data == std::vector<uint8_t>(1000, static_cast<uint8_t>(2999)));
  } catch (const CaptureError& e) {
    check::fail(__FILE__, __LINE__, e.what());
  }
  CHECK_EQ(packets, 3000u);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::unlink(fifo.c_str());
}

// ---------------------------------------------------------------------------------------------
// pcapng

namespace {
// Writes `bytes` into a FIFO from a child process and opens the FIFO with FileReader::open;
// returns what the reader read (All) and whether the writer finished.
All read_through_fifo(const std::vector<uint8_t>& bytes, size_t max_packets, std::string& opened_as) {
  const std::string fifo = temp_path(".fifo");
  ::unlink(fifo.c_str());
  CHECK(mkfifo(fifo.c_str(), 0600) == 0);
  const pid_t child = fork();
  if (child == 0) {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    size_t done = 0;
    while (fd >= 0 && done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, std::min<size_t>(bytes.size() - done, 65536 + 7));  // odd chunks
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  All a;
  try {
    auto r = FileReader::open(fifo);
    CHECK(r->contents() == nullptr);  // streamed: nothing to lend for the whole run
    a = read_all(*r, max_packets);
  } catch (const CaptureError& e) {
    a.error = e.what();
    a.last = ReadStatus::kError;
  }
  int status = 0;
  waitpid(child, &status, 0);
  ::unlink(fifo.c_str());
  opened_as = fifo;
  return a;
}
}  // namespace

TEST(file_reader_streamed_in_tiny_reads_gives_the_same_packets_and_refuses_huge_records) {
  W w = pcap_header(false, 0xa1b2c3d4, 2, 4, 0xffffffffu);  // a snap length that allows anything
  for (uint32_t i = 0; i < 100; ++i) pcap_record(w, {i, 0, 10 + i, 10 + i}, static_cast<uint8_t>(i));
  auto mem = FileReader::from_memory(w.b.data(), w.b.size(), "m");
  auto streamed = FileReader::from_memory_streamed(w.b.data(), w.b.size(), 7, "m");
  const All a = read_all(*mem, 9), b = read_all(*streamed, 9);
  CHECK(b.last == ReadStatus::kEnd);
  CHECK_EQ(b.packets.size(), 100u);
  bool same = a.packets.size() == b.packets.size();
  for (size_t i = 0; same && i < a.packets.size(); ++i) same = a.packets[i].data == b.packets[i].data;
  CHECK(same);
  // A damaged length of 3 GB: read whole, the file just ends; streamed, it is refused up front.
  W bad = pcap_header(false, 0xa1b2c3d4, 2, 4, 0xffffffffu);
  bad.u32(1).u32(0).u32(3000000000u).u32(3000000000u).fill(100, 0);
  const All c = read_all(*FileReader::from_memory_streamed(bad.b.data(), bad.b.size(), 4096, "s"), 9);
  CHECK(c.last == ReadStatus::kError);
  CHECK_EQ(c.error, std::string("s: packet record at offset 24 claims 3000000000 bytes, more than podspan buffers from a stream (67108864)"));
}

TEST(file_reader_streams_a_pipe_through_a_window_with_true_offsets) {
  // 12 MB of pcapng: blocks of varying sizes straddle every read and window boundary.
  W w(false);
  shb(w);
  idb(w, 1, 65535);
  idb(w, 101, 9000);
  for (uint32_t i = 0; i < 6000; ++i) {
    epb(w, i % 2, uint64_t{1000000} * i, std::vector<uint8_t>(100 + (i * 37) % 3900, static_cast<uint8_t>(i)), 5000);
  }
  auto mem = FileReader::from_memory(w.b.data(), w.b.size(), "mem");
  const All want = read_all(*mem, 700);
  std::string path;
  const All got = read_through_fifo(w.b, 700, path);
  CHECK(got.last == ReadStatus::kEnd);
  CHECK_EQ(got.packets.size(), want.packets.size());
  bool same = got.packets.size() == want.packets.size();
  for (size_t i = 0; same && i < got.packets.size(); ++i) {
    same = got.packets[i].data == want.packets[i].data && got.packets[i].rec.ts_ns == want.packets[i].rec.ts_ns &&
           got.packets[i].rec.iface == want.packets[i].rec.iface;
  }
  CHECK(same);
  // Damage 10 MB in is reported at its offset in the file, not in the window.
  W cut = w;
  const size_t at = 10u << 20;
  size_t block = 0;
  for (size_t p = 0; p < cut.b.size();) {  // the start of the block holding byte `at`
    const uint32_t len = static_cast<uint32_t>(cut.b[p + 4]) | cut.b[p + 5] << 8 | cut.b[p + 6] << 16 | static_cast<uint32_t>(cut.b[p + 7]) << 24;
    if (p + len > at) {
      block = p;
      break;
    }
    p += len;
  }
  cut.b[block + 4] = 13;  // an invalid block length
  const All bad = read_through_fifo(cut.b, 700, path);
  CHECK(bad.last == ReadStatus::kError);
  CHECK_EQ(bad.error, path + ": block at offset " + std::to_string(block) + " has an invalid length " +
                          std::to_string(13 | cut.b[block + 5] << 8 | cut.b[block + 6] << 16 | cut.b[block + 7] << 24) +
                          " (must be a multiple of 4, at least 12)");
}

TEST(file_reader_pcapng_two_sections_of_different_byte_order) {
  W w(false);
  shb(w, {{1, bytes_of("first comment")}, {2, bytes_of("hw")}, {3, bytes_of("linux 6")}, {4, bytes_of("podspan")},
          {1, bytes_of("second")}});
  idb(w, 1, 65535,
      {{2, bytes_of("eth0")}, {3, bytes_of("uplink")}, {9, {9}}, {1, bytes_of("idb comment")}, {13, {4}}});
  idb(w, 101, 0, {{2, bytes_of("tun0")}, {9, {0x80 | 20}}, {14, ord64(false, 100)}});
  other_block(w, 5, 20);  // ISB
  epb(w, 0, 1500000000123456789ull, std::vector<uint8_t>(60, 1), 70,
      {{1, bytes_of("hello")}, {2, le32(0x00000001)}});
  epb(w, 1, (uint64_t{1500000000} << 20) + (uint64_t{1} << 19), std::vector<uint8_t>(21, 2), 21);
  W be(true);
  shb(be, {{3, bytes_of("BE os")}});
  idb(be, 113, 128, {{2, bytes_of("any")}, {8, ord64(true, 1000000000)}});
  epb(be, 0, 1500000000000001ull, std::vector<uint8_t>(200, 3), 1500, {{1, bytes_of("be")}});
  spb(be, 300, 132, 4);                                  // snaplen 128 caps it
  obsolete_pb(be, 0, 5, 2000000, std::vector<uint8_t>(10, 5), 10, {{1, bytes_of("pb")}});
  w.append(be);

  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "two.pcapng");
  CHECK(r->format() == FileReader::Format::kPcapng);
  CHECK_EQ(r->interfaces().size(), 2u);  // the IDBs right after the first SHB are read at open
  CHECK_EQ(r->sections().size(), 1u);
  All a = read_all(*r, 2);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK(a.bounds_ok);
  CHECK_EQ(r->skipped_blocks(), 1u);

  // Sections
  CHECK_EQ(r->sections().size(), 2u);
  if (r->sections().size() == 2) {
    const SectionInfo& s0 = r->sections()[0];
    CHECK_EQ(s0.comments.size(), 2u);
    if (s0.comments.size() == 2) {
      CHECK_EQ(s0.comments[0], std::string("first comment"));
      CHECK_EQ(s0.comments[1], std::string("second"));
    }
    CHECK_EQ(s0.hardware, std::string("hw"));
    CHECK_EQ(s0.os, std::string("linux 6"));
    CHECK_EQ(s0.userappl, std::string("podspan"));
    CHECK_EQ(r->sections()[1].os, std::string("BE os"));
    CHECK(r->sections()[1].comments.empty());
  }

  // Interfaces, numbered globally in file order
  CHECK_EQ(r->interfaces().size(), 3u);
  if (r->interfaces().size() == 3) {
    const InterfaceInfo& i0 = r->interfaces()[0];
    CHECK_EQ(i0.name, std::string("eth0"));
    CHECK_EQ(i0.description, std::string("uplink"));
    CHECK_EQ(i0.linktype, 1);
    CHECK_EQ(i0.snaplen, 65535u);
    CHECK(i0.extra_options == cat(host_tlv(1, bytes_of("idb comment")), host_tlv(13, {4})));
    const InterfaceInfo& i1 = r->interfaces()[1];
    CHECK_EQ(i1.name, std::string("tun0"));
    CHECK_EQ(i1.linktype, 101);
    CHECK_EQ(i1.snaplen, 0u);
    CHECK(i1.extra_options.empty());  // tsresol and tsoffset are applied, not kept
    const InterfaceInfo& i2 = r->interfaces()[2];
    CHECK_EQ(i2.name, std::string("any"));
    CHECK_EQ(i2.linktype, 113);
    CHECK_EQ(i2.snaplen, 128u);
    CHECK(i2.extra_options == host_tlv(8, ord64(true, 1000000000)));  // value verbatim (big-endian)
  }

  // Packets
  CHECK_EQ(a.packets.size(), 5u);
  if (a.packets.size() != 5) return;
  const Packet& p0 = a.packets[0];
  CHECK_EQ(p0.rec.iface, 0u);
  CHECK_EQ(p0.rec.ts_ns, 1500000000123456789ull);  // 10^-9: taken as is
  CHECK_EQ(p0.rec.caplen, 60u);
  CHECK_EQ(p0.rec.origlen, 70u);
  CHECK(p0.data == std::vector<uint8_t>(60, 1));
  CHECK(p0.opts == cat(host_tlv(1, bytes_of("hello")), host_tlv(2, le32(1))));
  CHECK_EQ(p0.rec.optlen, 20u);
  const Packet& p1 = a.packets[1];
  CHECK_EQ(p1.rec.iface, 1u);
  CHECK_EQ(p1.rec.ts_ns, 1500000100500000000ull);  // 2^-20 units, plus 100 s of if_tsoffset
  CHECK_EQ(p1.rec.caplen, 21u);
  CHECK(p1.opts.empty());
  const Packet& p2 = a.packets[2];
  CHECK_EQ(p2.rec.iface, 2u);
  CHECK_EQ(p2.rec.ts_ns, 1500000000000001000ull);  // default 10^-6
  CHECK_EQ(p2.rec.caplen, 200u);
  CHECK_EQ(p2.rec.origlen, 1500u);
  CHECK(p2.opts == host_tlv(1, bytes_of("be")));
  const Packet& p3 = a.packets[3];  // SPB
  CHECK_EQ(p3.rec.iface, 2u);
  CHECK_EQ(p3.rec.ts_ns, 0u);
  CHECK_EQ(p3.rec.caplen, 128u);
  CHECK_EQ(p3.rec.origlen, 300u);
  CHECK(p3.data == std::vector<uint8_t>(128, 4));
  const Packet& p4 = a.packets[4];  // obsolete Packet Block
  CHECK_EQ(p4.rec.iface, 2u);
  CHECK_EQ(p4.rec.ts_ns, 2 * kSec);
  CHECK_EQ(p4.rec.caplen, 10u);
  CHECK(p4.opts == host_tlv(1, bytes_of("pb")));
}

TEST(file_reader_pcapng_interface_ids_are_per_section) {
  W w(true);
  shb(w);
  idb(w, 1, 0);
  idb(w, 105, 0);
  epb(w, 1, 1, {1}, 1);
  W le(false);
  shb(le);
  idb(le, 228, 0);
  epb(le, 0, 2, {2}, 1);
  const size_t bad_at = w.size() + le.size();
  epb(le, 1, 3, {3}, 1);  // interface 1 existed in the first section only
  w.append(le);
  All a = read_bytes(w.b, "ids.pcapng");
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.packets.size(), 2u);
  if (a.packets.size() == 2) {
    CHECK_EQ(a.packets[0].rec.iface, 1u);
    CHECK_EQ(a.packets[1].rec.iface, 2u);
  }
  CHECK_EQ(a.error, "ids.pcapng: packet block at offset " + std::to_string(bad_at) +
                        " refers to interface 1, which its section does not define (it defines 1)");

  W none(false);
  shb(none);
  epb(none, 0, 0, {1}, 1);
  All b = read_bytes(none.b, "none.pcapng");
  CHECK(b.last == ReadStatus::kError);
  CHECK_EQ(b.error, std::string("none.pcapng: packet block at offset 28 refers to interface 0, which its section does not define (it defines none)"));

  W spb_first(false);
  shb(spb_first);
  spb(spb_first, 10, 10, 1);
  All c = read_bytes(spb_first.b, "spb.pcapng");
  CHECK(c.last == ReadStatus::kError);
  CHECK_EQ(c.error, std::string("spb.pcapng: simple packet block at offset 28 comes before any interface of its section"));
}

// tcpdump -V: a pcap, a pcapng of two sections and a pcap read in turn as one input.
TEST(file_reader_chain_reads_files_in_turn_with_interfaces_numbered_on) {
  W first = pcap_header(false, 0xa1b2c3d4);
  for (uint32_t i = 0; i < 4; ++i) pcap_record(first, {10 + i, 0, 20, 20}, static_cast<uint8_t>(i + 1));
  W second(false);
  shb(second, {{4, bytes_of("second")}});  // shb_userappl
  idb(second, 101, 0);
  idb(second, 1, 0);
  epb(second, 1, 30 * 1000000ull, {7, 7}, 2);
  shb(second);
  idb(second, 113, 0);
  epb(second, 0, 31 * 1000000ull, {8}, 1);
  W third = pcap_header(true, 0xa1b23c4d, 2, 4, 65535, 228);
  pcap_record(third, {40, 5, 3, 3}, 9);
  std::vector<std::unique_ptr<FileReader>> parts;
  parts.push_back(FileReader::from_memory(first.b.data(), first.size(), "a.pcap"));
  parts.push_back(FileReader::from_memory(second.b.data(), second.size(), "b.pcapng"));
  W empty = pcap_header(false, 0xa1b2c3d4);  // a file of no packets: passed over, its interface counted
  parts.push_back(FileReader::from_memory(empty.b.data(), empty.size(), "empty.pcap"));
  parts.push_back(FileReader::from_memory(third.b.data(), third.size(), "c.pcap"));
  auto chain = FileReader::chain(std::move(parts));
  CHECK(chain->contents() == nullptr);  // no one mapping: a consumer copies what it keeps
  All a = read_all(*chain, 3);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK(a.bounds_ok);
  CHECK_EQ(a.empty_ok, 0u);
  CHECK_EQ(a.packets.size(), 7u);
  const std::vector<uint32_t> ifaces = {0, 0, 0, 0, 2, 3, 5};
  const std::vector<uint64_t> times = {10 * kSec, 11 * kSec, 12 * kSec, 13 * kSec, 30 * kSec, 31 * kSec, 40 * kSec + 5};
  for (size_t i = 0; i < a.packets.size() && i < 7; ++i) {
    CHECK_EQ(a.packets[i].rec.iface, ifaces[i]);
    CHECK_EQ(a.packets[i].rec.ts_ns, times[i]);
  }
  const std::vector<uint16_t> links = {1, 101, 1, 113, 1, 228};
  CHECK_EQ(chain->interfaces().size(), links.size());
  for (size_t i = 0; i < chain->interfaces().size() && i < links.size(); ++i) CHECK_EQ(chain->interfaces()[i].linktype, links[i]);
  CHECK_EQ(chain->sections().size(), 5u);  // the pcaps' one each, the pcapng's two
  if (chain->sections().size() == 5) CHECK_EQ(chain->sections()[1].userappl, std::string("second"));
  CHECK(chain->format() == FileReader::Format::kPcap);

  // A damaged second file: the first file's packets, then its error naming it.
  W cut = pcap_header(false, 0xa1b2c3d4);
  pcap_record(cut, {50, 0, 20, 20}, 1);
  cut.b.resize(cut.b.size() - 5);
  std::vector<std::unique_ptr<FileReader>> damaged;
  damaged.push_back(FileReader::from_memory(first.b.data(), first.size(), "a.pcap"));
  damaged.push_back(FileReader::from_memory(cut.b.data(), cut.size(), "cut.pcap"));
  All d = read_all(*FileReader::chain(std::move(damaged)), 3);
  CHECK(d.last == ReadStatus::kError);
  CHECK_EQ(d.packets.size(), 4u);
  CHECK(d.error.rfind("cut.pcap: ", 0) == 0);

  // Files opened when their turn comes: not before the earlier files' packets are read, and one
  // that cannot be opened then ends the input naming it, after those packets.
  size_t opened = 0;
  std::vector<FileReader::ChainPart> late(3);
  late[0].reader = FileReader::from_memory(first.b.data(), first.size(), "a.pcap");
  late[1].open_later = [&] {
    ++opened;
    return FileReader::from_memory(third.b.data(), third.size(), "c.pcap");
  };
  late[2].open_later = [&]() -> std::unique_ptr<FileReader> {
    ++opened;
    throw CaptureError(ErrorKind::kInputFile, "gone.pcap: cannot open: No such file or directory");
  };
  auto lazy = FileReader::chain(std::move(late));
  CHECK_EQ(opened, 0u);
  Batch b;
  CHECK(lazy->read(b, 4, 1 << 20) == ReadStatus::kOk);
  CHECK_EQ(b.records.size(), 4u);  // all of the first file
  CHECK_EQ(opened, 0u);
  All l = read_all(*lazy, 3);
  CHECK_EQ(opened, 2u);
  CHECK(l.last == ReadStatus::kError);
  CHECK_EQ(l.packets.size(), 1u);  // the second file's one packet
  if (l.packets.size() == 1) CHECK_EQ(l.packets[0].rec.iface, 1u);
  CHECK_EQ(l.error, std::string("gone.pcap: cannot open: No such file or directory"));
  CHECK(lazy->read(b, 4, 1 << 20) == ReadStatus::kError);  // and stays failed
  CHECK(b.records.empty());
}

// Millions of IDBs cost gigabytes: past 65,536 interfaces in a file the reader stops with one
// line naming the block, after the packets before it.
TEST(file_reader_pcapng_caps_interfaces_per_file) {
  W w(false);
  shb(w);
  idb(w, 1, 0);
  epb(w, 0, 1, {1}, 1);
  for (int i = 1; i < 65536; ++i) idb(w, 1, 0);
  epb(w, 65535, 2, {2}, 1);
  const size_t bad_at = w.size();
  idb(w, 1, 0);
  epb(w, 0, 3, {3}, 1);
  All a = read_bytes(w.b, "many.pcapng");
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.packets.size(), 2u);
  CHECK_EQ(a.error, "many.pcapng: interface description block at offset " + std::to_string(bad_at) +
                        " would be interface 65537 of the file; podspan reads at most 65536");
}

TEST(file_reader_pcapng_timestamp_resolutions) {
  struct Case {
    int tsresol;  // -1: option absent
    uint64_t units;
    int64_t offset_s;
    uint64_t want_ns;
  };
  const Case cases[] = {
      {-1, 1700000000123456ull, 0, 1700000000123456000ull},
      {6, 1700000000123456ull, 0, 1700000000123456000ull},
      {3, 1700000000123ull, 0, 1700000000123000000ull},
      {0, 1700000000ull, 0, 1700000000000000000ull},
      {9, 1700000000123456789ull, 0, 1700000000123456789ull},
      {12, 12345678901234567ull, 0, 12345678901234ull},  // picoseconds: divided
      {19, 18000000000000000000ull, 0, 1800000000ull},
      {0x80 | 20, (uint64_t{1500000000} << 20) + (uint64_t{1} << 19), 0, 1500000000500000000ull},
      {0x80 | 30, (uint64_t{1700000000} << 30) + (uint64_t{1} << 29), 0, 1700000000500000000ull},  // needs > 64 bits
      {0x80 | 8, (uint64_t{1519128000} << 8) + 50, 0, 1519128000195312500ull},                  // 50/256 s
      {0x80 | 0, 1700000000ull, 0, 1700000000000000000ull},
      {0x80 | 32, (uint64_t{1} << 32) * 3 + (uint64_t{1} << 30), 0, 3250000000ull},
      {9, 5 * kSec, -3, 2 * kSec},                               // negative if_tsoffset
      {6, 1000000ull, 1700000000, 1700000001000000000ull},       // if_tsoffset in seconds
      {0x80 | 127, ~uint64_t{0}, 0, 0},                          // absurd but harmless
      {60, ~uint64_t{0}, 0, 0},
      // Times 64-bit nanoseconds cannot hold are clamped, not wrapped.
      {0, 20000000000ull, 0, ~uint64_t{0}},                      // year 2603
      {0x80 | 0, ~uint64_t{0}, 0, ~uint64_t{0}},
      {9, 5 * kSec, -6, 0},
      {9, ~uint64_t{0} - 5, 1, ~uint64_t{0}},
      {9, 5 * kSec, INT64_MIN, 0},
      {9, 5 * kSec, INT64_MAX, ~uint64_t{0}},
  };
  for (const Case& c : cases) {
    for (bool big : {false, true}) {
      W w(big);
      shb(w);
      Opts opts;
      if (c.tsresol >= 0) opts.push_back({9, {static_cast<uint8_t>(c.tsresol)}});
      if (c.offset_s != 0) opts.push_back({14, ord64(big, static_cast<uint64_t>(c.offset_s))});
      idb(w, 1, 0, opts);
      epb(w, 0, c.units, {0}, 1);
      All a = read_bytes(w.b, "ts.pcapng");
      CHECK(a.last == ReadStatus::kEnd);
      CHECK_EQ(a.packets.size(), 1u);
      if (a.packets.size() != 1) continue;
      if (a.packets[0].rec.ts_ns != c.want_ns) {
        check::fail(__FILE__, __LINE__, "tsresol " + std::to_string(c.tsresol) + ": got " +
                                            std::to_string(a.packets[0].rec.ts_ns) + ", want " + std::to_string(c.want_ns));
      }
    }
  }
}

TEST(file_reader_pcapng_simple_packet_blocks) {
  W w(false);
  shb(w);
  idb(w, 1, 64, {{2, bytes_of("first")}});
  idb(w, 1, 0, {{2, bytes_of("second")}});
  spb(w, 100, 100, 1);  // snaplen 64 of interface 0
  spb(w, 30, 32, 2);    // origlen < present (padding)
  spb(w, 10, 0, 3);     // nothing present
  W s(false);
  shb(s);
  idb(s, 1, 0);
  spb(s, 500, 40, 4);   // no snaplen: what the block holds
  w.append(s);
  All a = read_bytes(w.b, "spb.pcapng");
  CHECK(a.last == ReadStatus::kEnd);
  CHECK_EQ(a.packets.size(), 4u);
  if (a.packets.size() != 4) return;
  CHECK_EQ(a.packets[0].rec.caplen, 64u);
  CHECK_EQ(a.packets[0].rec.origlen, 100u);
  CHECK_EQ(a.packets[0].rec.iface, 0u);
  CHECK_EQ(a.packets[1].rec.caplen, 30u);
  CHECK_EQ(a.packets[1].rec.origlen, 30u);
  CHECK_EQ(a.packets[2].rec.caplen, 0u);
  CHECK_EQ(a.packets[2].rec.origlen, 10u);
  CHECK_EQ(a.packets[3].rec.caplen, 40u);
  CHECK_EQ(a.packets[3].rec.origlen, 500u);
  CHECK_EQ(a.packets[3].rec.iface, 2u);
  CHECK(a.packets[3].data == std::vector<uint8_t>(40, 4));
}

TEST(file_reader_pcapng_skips_blocks_it_does_not_use) {
  W w(true);
  shb(w);
  other_block(w, 4, 16);           // NRB
  idb(w, 1, 0);
  other_block(w, 5, 28);           // ISB
  epb(w, 0, 1, {9, 9}, 2);
  other_block(w, 0xA, 8);          // DSB
  other_block(w, 0x0BAD, 12);      // custom, copyable
  other_block(w, 0x40000BAD, 0);   // custom, not copyable
  other_block(w, 9, 4);            // systemd journal export
  other_block(w, 0x80001234, 4);   // local use
  other_block(w, 0x12345678, 40);  // unknown
  epb(w, 0, 2, {8}, 1);
  All a = read_bytes(w.b, "skip.pcapng", 1);
  CHECK(a.last == ReadStatus::kEnd);
  CHECK_EQ(a.packets.size(), 2u);
  auto r = FileReader::from_memory(w.b.data(), w.b.size(), "skip.pcapng");
  read_all(*r);
  CHECK_EQ(r->skipped_blocks(), 8u);

  // A file with only a section header, or sections without packets.
  W only(false);
  shb(only);
  All b = read_bytes(only.b, "only.pcapng");
  CHECK(b.last == ReadStatus::kEnd);
  CHECK_EQ(b.packets.size(), 0u);
  shb(only, {}, 1, 2);  // 1.2 is accepted like libpcap and Wireshark do
  idb(only, 1, 0);
  All c = read_bytes(only.b, "only.pcapng");
  CHECK(c.last == ReadStatus::kEnd);
}

TEST(file_reader_pcapng_versions) {
  for (auto v : {std::pair<uint16_t, uint16_t>{2, 0}, {0, 1}, {1, 1}}) {
    W w(v.first == 0);
    shb(w, {{4, bytes_of("x")}}, v.first, v.second);
    OpenError e = open_error(w.b, "v.pcapng");
    CHECK(e.kind == ErrorKind::kCorruptFile);
    CHECK_EQ(e.message, "v.pcapng: unsupported pcapng version " + std::to_string(v.first) + "." +
                            std::to_string(v.second) + " in the section header block at offset 0");
  }
  // A later section with a version we do not know ends the file there.
  W w(false);
  shb(w);
  idb(w, 1, 0);
  epb(w, 0, 1, {1}, 1);
  const size_t at = w.size();
  shb(w, {}, 2, 0);
  idb(w, 1, 0);
  epb(w, 0, 1, {1}, 1);
  All a = read_bytes(w.b, "v2.pcapng");
  CHECK(a.last == ReadStatus::kError);
  CHECK_EQ(a.packets.size(), 1u);
  CHECK_EQ(a.error, "v2.pcapng: unsupported pcapng version 2.0 in the section header block at offset " + std::to_string(at));
}

TEST(file_reader_pcapng_options_running_past_their_block) {
  // In the first SHB: open() fails (libpcap's shb-option-too-long.pcapng).
  {
    W w(false);
    W s(false);
    s.u32(0x1a2b3c4d).u16(1).u16(0).u64(~uint64_t{0});
    s.u16(3).u16(40).str("linux").pad();
    block(w, 0x0a0d0d0a, s);
    OpenError e = open_error(w.b, "shb.pcapng");
    CHECK(e.kind == ErrorKind::kCorruptFile);
    CHECK_EQ(e.message, std::string("shb.pcapng: option 3 of length 40 runs past the end of its block at offset 0"));
  }
  // In an IDB
  {
    W w(true);
    shb(w);
    const size_t at = w.size();
    W s(true);
    s.u16(1).u16(0).u32(0).u16(2).u16(200).str("eth0").pad();
    block(w, 1, s);
    All a = read_bytes(w.b, "idb.pcapng");
    CHECK(a.last == ReadStatus::kError);
    CHECK_EQ(a.error, "idb.pcapng: option 2 of length 200 runs past the end of its block at offset " + std::to_string(at));
  }
  // In an EPB, after a good packet
  {
    W w(false);
    shb(w);
    idb(w, 1, 0);
    epb(w, 0, 1, {1, 2, 3}, 3, {{1, bytes_of("ok")}});
    const size_t at = w.size();
    W s(false);
    s.u32(0).u32(0).u32(2).u32(4).u32(4).fill(4, 7);
    s.u16(1).u16(9).str("abcd");
    block(w, 6, s);
    All a = read_bytes(w.b, "epb.pcapng");
    CHECK(a.last == ReadStatus::kError);
    CHECK_EQ(a.packets.size(), 1u);
    CHECK_EQ(a.error, "epb.pcapng: option 1 of length 9 runs past the end of its block at offset " + std::to_string(at));
  }
  // Options without opt_endofopt, and a trailing partial option header, are fine.
  {
    W w(false);
    shb(w);
    idb(w, 1, 0);
    W s(false);
    s.u32(0).u32(0).u32(2).u32(4).u32(4).fill(4, 7);
    s.u16(1).u16(3).str("abc").pad();
    block(w, 6, s);
    All a = read_bytes(w.b, "noend.pcapng");
    CHECK(a.last == ReadStatus::kEnd);
    CHECK_EQ(a.packets.size(), 1u);
    if (a.packets.size() == 1) CHECK(a.packets[0].opts == host_tlv(1, bytes_of("abc")));
  }
}

TEST(file_reader_pcapng_damaged_blocks) {
  auto base = [] {
    W w(false);
    shb(w);
    idb(w, 1, 0);
    epb(w, 0, 1, {1, 2, 3, 4}, 4);
    return w;
  };
  const size_t at = base().size();
  auto expect = [&](W w, const std::string& error) {
    All a = read_bytes(w.b, "d.pcapng");
    CHECK(a.last == ReadStatus::kError);
    CHECK_EQ(a.packets.size(), 1u);
    CHECK_EQ(a.error, error);
  };
  {  // length not a multiple of 4
    W w = base();
    w.u32(6).u32(30).fill(22, 0);
    expect(w, "d.pcapng: block at offset " + std::to_string(at) + " has an invalid length 30 (must be a multiple of 4, at least 12)");
  }
  {  // length below 12
    W w = base();
    w.u32(6).u32(8).fill(8, 0);
    expect(w, "d.pcapng: block at offset " + std::to_string(at) + " has an invalid length 8 (must be a multiple of 4, at least 12)");
  }
  {  // block longer than the rest of the file
    W w = base();
    w.u32(6).u32(64).fill(32, 0);
    expect(w, "d.pcapng: file ends in the middle of a block at offset " + std::to_string(at) + " (block length 64, have 40)");
  }
  {  // a few bytes after the last block
    W w = base();
    w.u32(6).u32(64);
    expect(w, "d.pcapng: file ends in the middle of a block header at offset " + std::to_string(at) + " (needed 12 bytes, have 8)");
  }
  {  // trailing length differs
    W w = base();
    epb(w, 0, 2, {5}, 1);
    w.b[w.size() - 4] ^= 0x40;
    expect(w, "d.pcapng: block at offset " + std::to_string(at) + ": trailing length 100 does not match the leading length 36");
  }
  {  // captured length larger than the block
    W w = base();
    W s(false);
    s.u32(0).u32(0).u32(0).u32(100).u32(100).fill(8, 0);
    block(w, 6, s);
    expect(w, "d.pcapng: packet block at offset " + std::to_string(at) + ": captured length 100 runs past the end of its block");
  }
  {  // a packet block too short for its fixed fields
    W w = base();
    W s(false);
    s.u32(0).u32(0).u32(0);
    block(w, 6, s);
    expect(w, "d.pcapng: packet block at offset " + std::to_string(at) + " is too short (24 bytes)");
  }
  {  // an IDB too short
    W w = base();
    W s(false);
    s.u32(1);
    block(w, 1, s);
    expect(w, "d.pcapng: interface description block at offset " + std::to_string(at) + " is too short");
  }
  {  // a second SHB with a broken byte-order magic
    W w = base();
    w.u32(0x0a0d0d0a).u32(28).u32(0xdeadbeef).fill(16, 0);
    expect(w, "d.pcapng: section header block at offset " + std::to_string(at) + " has an invalid byte-order magic 0xdeadbeef");
  }
  {  // an SHB whose trailing length differs
    W w = base();
    shb(w);
    w.b[w.size() - 1] = 1;
    expect(w, "d.pcapng: section header block at offset " + std::to_string(at) +
                  ": trailing length 16777244 does not match the leading length 28");
  }
}

// Cuts good files at every length and flips bytes: the reader must fail cleanly (ASan and
// UBSan watch the reads), keep the good packets before the damage, and report kEnd only for
// cuts at a block / record boundary.
TEST(file_reader_survives_every_truncation_and_bit_flips) {
  std::vector<size_t> ng_bounds, pcap_bounds;
  W w(false);
  shb(w, {{1, bytes_of("c")}});
  ng_bounds.push_back(w.size());
  idb(w, 1, 0, {{2, bytes_of("a")}, {9, {0x80 | 10}}});
  ng_bounds.push_back(w.size());
  epb(w, 0, 1, std::vector<uint8_t>(17, 1), 17, {{1, bytes_of("x")}});
  ng_bounds.push_back(w.size());
  spb(w, 9, 9, 2);
  ng_bounds.push_back(w.size());
  W be(true);
  shb(be);
  ng_bounds.push_back(w.size() + be.size());
  idb(be, 101, 0);
  ng_bounds.push_back(w.size() + be.size());
  obsolete_pb(be, 0, 0, 3, std::vector<uint8_t>(5, 3), 5);
  w.append(be);
  ng_bounds.push_back(w.size());
  W p = pcap_header(true, 0xa1b23c4d);
  pcap_bounds.push_back(p.size());
  pcap_record(p, {1, 2, 7, 7}, 1);
  pcap_bounds.push_back(p.size());
  pcap_record(p, {1, 2, 9, 9}, 2);
  pcap_bounds.push_back(p.size());

  for (const auto& file : {std::make_pair(&w, &ng_bounds), std::make_pair(&p, &pcap_bounds)}) {
    const std::vector<uint8_t>& full_bytes = file.first->b;
    const std::vector<size_t>& bounds = *file.second;
    const size_t full = read_bytes(full_bytes, "f").packets.size();
    for (size_t len = 0; len <= full_bytes.size(); ++len) {
      std::vector<uint8_t> cut(full_bytes.begin(), full_bytes.begin() + len);
      const bool boundary = std::find(bounds.begin(), bounds.end(), len) != bounds.end();
      try {
        All a = read_bytes(cut, "cut", 1);
        CHECK(a.bounds_ok);
        CHECK(a.packets.size() <= full);
        if (boundary != (a.last == ReadStatus::kEnd)) {
          check::fail(__FILE__, __LINE__, "cut at " + std::to_string(len) + ": " + (boundary ? "not read to the end: " + a.error : "no error"));
        }
        if (a.last == ReadStatus::kError && a.error.rfind("cut: ", 0) != 0) check::fail(__FILE__, __LINE__, a.error);
      } catch (const CaptureError& e) {
        if (len >= bounds[0]) check::fail(__FILE__, __LINE__, "cut at " + std::to_string(len) + " threw: " + e.what());
      }
    }
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; ++round) {
      std::vector<uint8_t> bad = full_bytes;
      for (int k = 0; k < 3; ++k) {
        seed = seed * 1103515245u + 12345u;
        bad[(seed >> 8) % bad.size()] ^= static_cast<uint8_t>(1u << ((seed >> 4) & 7));
      }
      try {
        All a = read_bytes(bad, "flip", 2);
        CHECK(a.bounds_ok);
      } catch (const CaptureError&) {
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Third-party corpus (read-only, outside the repository): PODSPAN_CORPUS, or ../shared/corpus.

namespace {

struct CorpusFile {
  const char* name;
  size_t packets;  // packets capinfos / tshark count; for damaged files: good packets before the damage
  bool damaged;    // must end in kError or throw CaptureError
};

// Measured with `capinfos -c -M` and tshark 4.0.17 (packets only, not custom blocks). Two
// deliberate differences: suricata__fuzz-bogus-record-length.pcap reads 1 good packet here
// as in libpcap/tcpdump (tshark guesses another record layout and shows 2), and files with
// several sections number interfaces globally (tshark 4.0 repeats each section's local ids).
const CorpusFile kCorpus[] = {
    {"gopacket__pcapng-test901-unknown-shb-version.pcapng", 1, true},
    {"gopacket__pcapng-test902-tsresol-binary.pcapng", 1, false},
    {"gopacket__test_loopback.pcap", 24, false},
    {"libpcap__linktype-reserved-field-not-zero.pcap", 0, true},
    {"libpcap__pcap-invalid-version-1.pcap", 0, true},
    {"libpcap__pcap-invalid-version-2.pcap", 1, false},
    {"libpcap__pcapng-invalid-vers-1.pcapng", 0, true},
    {"libpcap__pcapng-invalid-vers-2.pcapng", 0, true},
    {"libpcap__shb-option-too-long.pcapng", 0, true},
    {"pcapngtg__be-test001-basic.pcapng", 4, false},
    {"pcapngtg__le-test001-basic.pcapng", 4, false},
    {"pcapngtg__le-test002-only-shb.pcapng", 0, false},
    {"pcapngtg__le-test006-two-linktypes.pcapng", 5, false},
    {"pcapngtg__le-test007-shb-all-options.pcapng", 1, false},
    {"pcapngtg__le-test008-idb-all-options.pcapng", 4, false},
    {"pcapngtg__le-test009-epb-all-options.pcapng", 2, false},
    {"pcapngtg__le-test010-spb.pcapng", 4, false},
    {"pcapngtg__le-test011-spb-epb-mix.pcapng", 4, false},
    {"pcapngtg__le-test012-spb-snaplen.pcapng", 4, false},
    {"pcapngtg__le-test016-nrb.pcapng", 4, false},
    {"pcapngtg__le-test018-custom-blocks.pcapng", 4, false},
    {"pcapngtg__le-test102-all-blocks.pcapng", 5, false},
    {"pcapngtg__le-test200-multi-shb-empty.pcapng", 0, false},
    {"pcapngtg__le-test201-multi-shb-isb.pcapng", 4, false},
    {"pcapngtg__le-test202-multi-shb-mixed-endian.pcapng", 8, false},
    {"pcapparser__modified-format-kuznetzov.pcap", 1, false},
    {"pcapparser__wireshark-samples-test.pcapng", 5898, false},
    {"suricata__decode-sll2.pcap", 5, false},
    {"suricata__frag-ipv4-tcp-syn-linktype-ipv4.pcap", 3, false},
    {"suricata__frag-ipv6-tcp-linktype-ipv6.pcap", 3, false},
    {"suricata__frag-vlan-ipv6-tcp.pcap", 3, false},
    {"suricata__fuzz-bogus-record-length.pcap", 1, true},
    {"suricata__http-ipv6-null.pcap", 14, false},
    {"suricata__http-start-from-response.pcap", 8, false},
    {"suricata__ipv4frags.pcap", 3, false},
    {"suricata__ipv6-malformed-fragments-1.pcap", 13, false},
    {"suricata__midstream-testmyids.pcap", 5, false},
    {"suricata__mqtt-ipv6-zero-window.pcap", 37, false},
    {"suricata__mqtt-midstream-split.pcap", 16, false},
    {"suricata__nfs3-big-endian.pcap", 128, false},
    {"suricata__raw-ip-retrans-ooo.pcap", 42, false},
    {"suricata__smb3-midstream.pcap", 46, false},
    {"suricata__smtp-hand-edited-bogus-length.pcap", 18, true},
    {"suricata__syn-retransmit-with-ts.pcap", 254, false},
    {"suricata__tcp-data-gap.pcap", 7, false},
    {"suricata__tcp-fastopen-sll.pcap", 16, false},
    {"suricata__tcp-leading-gap.pcap", 7, false},
    {"suricata__tcp-out-of-window.pcap", 3, false},
    {"suricata__tcp-overlap-exact.pcap", 7, false},
    {"suricata__tcp-overlap-partial.pcap", 7, false},
    {"suricata__tcp-rst-evasion-linux.pcap", 10, false},
    {"suricata__tcp-rst-unacked-data.pcap", 8, false},
    {"suricata__tcp-rst-unacked-http-gap.pcap", 7, false},
    {"suricata__tcp-split-handshake-4whs.pcap", 7, false},
    {"suricata__tls-client-hello-mtu300.pcap", 62, false},
    {"suricata__tls-der-bogus-record-length.pcap", 6, true},
    {"suricata__tls-subjectaltname-multiflow.pcap", 3138, false},
    {"tcpdump__802.1ad_QinQ.pcap", 2, false},
    {"tcpdump__LINKTYPE_IPV4.pcap", 1, false},
    {"tcpdump__LINKTYPE_IPV6.pcap", 1, false},
    {"tcpdump__LINKTYPE_RAW_ipv4.pcap", 1, false},
    {"tcpdump__LINKTYPE_RAW_ipv6.pcap", 1, false},
    {"tcpdump__bigtcp-ipv4.pcap", 1, false},
    {"tcpdump__bigtcp-ipv6.pcap", 1, false},
    {"tcpdump__empty.pcap", 0, false},
    {"tcpdump__empty.pcapng", 0, false},
    {"tcpdump__erspan-type-ii-3.pcap", 108, false},
    {"tcpdump__erspan-type-iii-ft-0.pcap", 9, false},
    {"tcpdump__geneve.pcap", 39, false},
    {"tcpdump__ipv4_tcp_http_xml.pcap", 1, false},
    {"tcpdump__ipv4_tcp_http_xml_tso.pcap", 1, false},
    {"tcpdump__pptp.pcap", 23, false},
    {"tcpdump__resp_2_inline.pcap", 14, false},
    {"tcpdump__tcp-handshake-nano.pcap", 3, false},
    {"tcpdump__tcp_rst_data-trunc.pcap", 1, false},
    {"tcpdump__tcp_rst_data.pcap", 1, false},
    {"tcpdump__timestamp_invalid_nano.pcap", 3, false},
    {"tcpdump__various_gre.pcap", 100, false},
    {"tcpdump__vxlan.pcap", 10, false},
    {"zeek__erspan.pcap", 287, false},
    {"zeek__erspanI.pcap", 10, false},
    {"zeek__erspanIII.pcap", 2, false},
    {"zeek__ftp-bigtransfer-seqwrap.pcap", 83, false},
    {"zeek__ftp-ipv6.pcap", 136, false},
    {"zeek__geneve-many-options.pcap", 10, false},
    {"zeek__gre-sample.pcap", 40, false},
    {"zeek__gre-within-gre.pcap", 628, false},
    {"zeek__http-206-zero-window.pcap", 1556, false},
    {"zeek__http-get-to-ssh-nsec.pcap", 9, false},
    {"zeek__http-m57-retrans.pcap", 52, false},
    {"zeek__http-pipelined-requests.pcap", 49, false},
    {"zeek__http-qinq.pcap", 14, false},
    {"zeek__http-vlan.pcap", 14, false},
    {"zeek__ipv4-fragmented-1.pcap", 3, false},
    {"zeek__ipv4-fragmented-3.pcap", 5, false},
    {"zeek__ipv4-fragmented-4-tcp.pcap", 6, false},
    {"zeek__ipv6-fragmented-dns.pcap", 8, false},
    {"zeek__ipv6-http-atomic-frag.pcap", 38, false},
    {"zeek__ldap-gap-126-interfaces.pcapng", 18, false},
    {"zeek__linux-sll2.pcap", 6, false},
    {"zeek__mixed-vlan-mpls.pcap", 47, false},
    {"zeek__mpls-in-vlan.pcap", 3, false},
    {"zeek__pcapng-multi-interface.pcapng", 6, false},
    {"zeek__pppoe-over-qinq.pcap", 86, false},
    {"zeek__redis-null-pcapng.pcapng", 6, false},
    {"zeek__smtp.pcap", 125, false},
    {"zeek__tcp-handshake-reorder.pcap", 14, false},
    {"zeek__tcp-http-missing-syn.pcapng", 13, false},
    {"zeek__tcp-missing-syn.pcap", 21, false},
    {"zeek__tcp-reassembly.pcap", 117, false},
    {"zeek__tcp-retransmit-fast009.pcap", 39, false},
    {"zeek__tcp-rst-inject.pcap", 9, false},
    {"zeek__tcp-ssh-dups.pcap", 377, false},
    {"zeek__tcp-truncated-header.pcap", 24, false},
    {"zeek__tls-sll2.pcap", 6, false},
    {"zeek__tls12.pcap", 22, false},
    {"zeek__trunc-hdr.pcap", 1, false},
    {"zeek__vlan-qinqinq.pcap", 14, false},
    {"zeek__vxlan-http.pcap", 12, false},
};

struct CorpusResult {
  bool threw = false;
  All all;
  size_t interfaces = 0, sections = 0;
};

CorpusResult read_corpus_file(const std::string& path) {
  CorpusResult res;
  try {
    auto r = FileReader::open(path);
    res.all = read_all(*r, 64);
    res.interfaces = r->interfaces().size();
    res.sections = r->sections().size();
  } catch (const CaptureError& e) {
    res.threw = true;
    res.all.error = e.what();
  }
  return res;
}

}  // namespace

TEST(file_reader_corpus) {
  const char* env = std::getenv("PODSPAN_CORPUS");
  const std::string dir = env && *env ? env : "../shared/corpus";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::printf("file_reader_corpus: skipped, no corpus folder at %s (set PODSPAN_CORPUS)\n", dir.c_str());
    return;
  }
  std::map<std::string, const CorpusFile*> known;
  for (const CorpusFile& f : kCorpus) known[f.name] = &f;

  size_t seen = 0;
  for (const CorpusFile& f : kCorpus) {
    const std::string path = dir + "/" + f.name;
    if (stat(path.c_str(), &st) != 0) {
      check::fail(__FILE__, __LINE__, "corpus file missing: " + path);
      continue;
    }
    ++seen;
    CorpusResult res = read_corpus_file(path);
    const bool failed = res.threw || res.all.last == ReadStatus::kError;
    if (!res.all.bounds_ok) check::fail(__FILE__, __LINE__, std::string(f.name) + ": record out of bounds");
    if (failed != f.damaged) {
      check::fail(__FILE__, __LINE__, std::string(f.name) + (f.damaged ? ": damage not reported" : ": " + res.all.error));
    }
    if (failed && res.all.error.rfind(path + ": ", 0) != 0) {
      check::fail(__FILE__, __LINE__, std::string(f.name) + ": error does not start with the path: " + res.all.error);
    }
    if (res.all.packets.size() != f.packets) {
      check::fail(__FILE__, __LINE__, std::string(f.name) + ": " + std::to_string(res.all.packets.size()) +
                                          " packets, want " + std::to_string(f.packets));
    }
  }
  CHECK_EQ(seen, sizeof kCorpus / sizeof kCorpus[0]);

  // Files added to the corpus later: read without crashing.
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      const bool capture = name.size() > 5 && (name.compare(name.size() - 5, 5, ".pcap") == 0 ||
                                               (name.size() > 7 && name.compare(name.size() - 7, 7, ".pcapng") == 0));
      if (capture && known.count(name) == 0) {
        CorpusResult res = read_corpus_file(dir + "/" + name);
        if (!res.all.bounds_ok) check::fail(__FILE__, __LINE__, name + ": record out of bounds");
      }
    }
    closedir(d);
  }

  // A few files in detail (values cross-checked against tshark).
  {
    CorpusResult res = read_corpus_file(dir + "/pcapngtg__le-test202-multi-shb-mixed-endian.pcapng");
    CHECK_EQ(res.sections, 3u);
    CHECK_EQ(res.interfaces, 5u);
    const uint32_t want_iface[] = {0, 0, 1, 2, 2, 2, 2, 4};
    const uint32_t want_caplen[] = {96, 96, 168, 128, 128, 128, 128, 168};
    const uint32_t want_origlen[] = {314, 342, 168, 314, 342, 314, 342, 168};
    CHECK_EQ(res.all.packets.size(), 8u);
    for (size_t i = 0; i < res.all.packets.size() && i < 8; ++i) {
      CHECK_EQ(res.all.packets[i].rec.iface, want_iface[i]);
      CHECK_EQ(res.all.packets[i].rec.caplen, want_caplen[i]);
      CHECK_EQ(res.all.packets[i].rec.origlen, want_origlen[i]);
    }
    if (!res.all.packets.empty()) CHECK_EQ(res.all.packets[0].rec.ts_ns, 1340954905298858000ull);
  }
  {
    CorpusResult res = read_corpus_file(dir + "/gopacket__pcapng-test902-tsresol-binary.pcapng");
    CHECK_EQ(res.all.packets.size(), 1u);
    if (!res.all.packets.empty()) CHECK_EQ(res.all.packets[0].rec.ts_ns, 1519128000195312500ull);  // 2^-8 s units
  }
  {
    CorpusResult res = read_corpus_file(dir + "/pcapparser__modified-format-kuznetzov.pcap");
    CHECK_EQ(res.all.packets.size(), 1u);
    if (!res.all.packets.empty()) {
      CHECK_EQ(res.all.packets[0].rec.caplen, 98u);
      CHECK_EQ(res.all.packets[0].rec.ts_ns, 1712763541734807000ull);
    }
  }
  {
    CorpusResult res = read_corpus_file(dir + "/suricata__smtp-hand-edited-bogus-length.pcap");
    CHECK_EQ(res.all.error, dir + "/suricata__smtp-hand-edited-bogus-length.pcap: captured length 3925868813 is larger than the maximum 262144 at offset 3695");
  }
}
