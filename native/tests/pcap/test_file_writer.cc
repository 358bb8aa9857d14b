// CaptureWriter: exact pcap / pcapng layout, options kept, ISBs, rotation by size and time,
// the ring of N files, and errors naming the path.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "common/errors.h"
#include "file_size_limit.h"
#include "pcap/direct_file.h"
#include "pcap/file_reader.h"
#include "pcap/file_writer.h"

using namespace podspan;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/podspan-writer-XXXXXX";
  return mkdtemp(tmpl);
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void remove_tree(const std::string& dir) {
  for (const auto& f : list(dir)) unlink((dir + "/" + f).c_str());
  rmdir(dir.c_str());
}

InterfaceInfo iface(const std::string& name, uint16_t linktype = 1) {
  InterfaceInfo i;
  i.name = name;
  i.description = name + " port";
  i.linktype = linktype;
  i.snaplen = 65535;
  return i;
}

uint32_t u32(const std::vector<uint8_t>& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

uint64_t count(const std::string& path) {
  auto r = FileReader::open(path);
  Batch b;
  uint64_t n = 0;
  for (;;) {
    const ReadStatus st = r->read(b, 100, 1 << 20);
    n += b.size();
    if (st != ReadStatus::kOk) return st == ReadStatus::kEnd ? n : ~uint64_t{0};
  }
}

void write_packets(CaptureWriter& w, int n, uint64_t start_ns, uint64_t step_ns, uint32_t caplen, uint32_t ifc = 0) {
  std::vector<uint8_t> data(caplen, 0x5a);
  for (int i = 0; i < n; ++i) {
    PacketRecord r;
    r.ts_ns = start_ns + static_cast<uint64_t>(i) * step_ns;
    r.caplen = caplen;
    r.origlen = caplen + 1;
    r.iface = ifc;
    w.write(r, data.data());
  }
}

}  // namespace

TEST(writer_pcap_layout_micro_and_nano) {
  const std::string dir = temp_dir();
  for (FileFormat f : {FileFormat::kPcap, FileFormat::kPcapNs}) {
    WriterOptions o;
    o.path = dir + "/a.pcap";
    o.format = f;
    CaptureWriter w(o);
    w.add_interface(iface("eth0"));
    write_packets(w, 2, 1700000000123456789ull, 1, 60);
    w.close();
    auto b = slurp(o.path);
    CHECK_EQ(b.size(), 24u + 2u * (16u + 60u));
    CHECK_EQ(u32(b, 0), f == FileFormat::kPcap ? 0xa1b2c3d4u : 0xa1b23c4du);
    CHECK_EQ(u32(b, 16), 65535u);
    CHECK_EQ(u32(b, 20), 1u);
    CHECK_EQ(u32(b, 24), 1700000000u);
    CHECK_EQ(u32(b, 28), f == FileFormat::kPcap ? 123456u : 123456789u);
    CHECK_EQ(u32(b, 32), 60u);
    CHECK_EQ(u32(b, 36), 61u);
    CHECK_EQ(count(o.path), 2u);
  }
  remove_tree(dir);
}

// A packet of no bytes may come without a pointer (the convert fuzzer found the pcapng fast
// path passing that null to memcpy: undefined behaviour, caught by UBSan).
TEST(writer_takes_an_empty_packet_without_bytes) {
  const std::string dir = temp_dir();
  for (FileFormat f : {FileFormat::kPcap, FileFormat::kPcapng}) {
    WriterOptions o;
    o.path = dir + (f == FileFormat::kPcap ? "/e.pcap" : "/e.pcapng");
    o.format = f;
    CaptureWriter w(o);
    w.add_interface(iface("eth0"));
    PacketRecord r{};
    r.ts_ns = 1700000000000000000ull;
    w.write(r, nullptr);
    w.write_referenced(r, nullptr);
    w.release_referenced();
    w.close();
    CHECK_EQ(count(o.path), 2u);
  }
  remove_tree(dir);
}

TEST(writer_pcapng_keeps_interfaces_options_and_writes_isbs) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/a.pcapng";
  o.format = FileFormat::kPcapng;
  o.section.comments = {"from a test"};
  o.stats_for_interface = [](uint32_t i) {
    InterfaceStats s;
    s.received = 10 + i;
    s.dropped_kernel = 3;
    s.dropped_iface = 1;
    s.captured = 7;
    return s;
  };
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 3, 1000000000ull, 1000, 61);
  w.add_interface(iface("raw0", 101));  // an interface that appears mid-file
  PacketRecord r;
  r.ts_ns = 2000000000ull;
  r.caplen = 4;
  r.origlen = 4;
  r.iface = 1;
  const uint8_t with_opt[4 + 8] = {1, 2, 3, 4, /* opt_comment len 3 */ 1, 0, 3, 0, 'h', 'e', 'y', 0};
  r.optlen = 8;
  w.write(r, with_opt);
  w.close();
  CHECK_EQ(w.packets_written(), 4u);

  auto rd = FileReader::open(o.path);
  Batch b;
  CHECK(rd->read(b, 100, 1 << 20) == ReadStatus::kEnd);
  CHECK_EQ(b.size(), 4u);
  CHECK_EQ(rd->interfaces().size(), 2u);
  CHECK_EQ(rd->interfaces()[0].name, std::string("eth0"));
  CHECK_EQ(rd->interfaces()[0].description, std::string("eth0 port"));
  CHECK_EQ(rd->interfaces()[1].linktype, 101);
  CHECK_EQ(rd->sections()[0].comments[0], std::string("from a test"));
  CHECK_EQ(rd->sections()[0].userappl, std::string("podspan"));
  CHECK_EQ(b.records[2].ts_ns, 1000002000ull);
  CHECK_EQ(b.records[3].optlen, 8u);
  CHECK_EQ(std::memcmp(b.data.data() + b.records[3].offset + 4, with_opt + 4, 8), 0);
  CHECK_EQ(rd->skipped_blocks(), 2u);  // the two ISBs

  // The ISB of interface 0: ifrecv 10, osdrop 3, usrdeliv 7.
  auto bytes = slurp(o.path);
  size_t off = 0;
  int isbs = 0;
  while (off + 12 <= bytes.size()) {
    const uint32_t type = u32(bytes, off), len = u32(bytes, off + 4);
    if (type == 5 && u32(bytes, off + 8) == 0) {
      ++isbs;
      size_t p = off + 20;
      while (p + 4 <= off + len - 4) {
        uint16_t code, olen;
        std::memcpy(&code, &bytes[p], 2);
        std::memcpy(&olen, &bytes[p + 2], 2);
        if (code == 0) break;
        uint64_t v = 0;
        if (olen == 8) std::memcpy(&v, &bytes[p + 4], 8);
        if (code == 4) CHECK_EQ(v, 10u);
        if (code == 7) CHECK_EQ(v, 3u);
        if (code == 8) CHECK_EQ(v, 7u);
        p += 4 + ((olen + 3u) & ~3u);
      }
    }
    off += len;
  }
  CHECK_EQ(isbs, 1);
  remove_tree(dir);
}

TEST(writer_rotates_by_size_keeping_a_ring) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/cap.pcap";
  o.format = FileFormat::kPcap;
  o.rotation.max_bytes = 24 + 10 * (16 + 100);  // exactly 10 records per file
  o.rotation.max_files = 3;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 95, 1700000000000000000ull, 1000, 100);
  w.close();
  auto files = list(dir);
  CHECK_EQ(files.size(), 3u);
  CHECK_EQ(w.files().size(), 3u);
  CHECK(files[0].rfind("cap_00008_20231114", 0) == 0);
  CHECK(files[2].rfind("cap_00010_", 0) == 0);
  CHECK_EQ(files[2].substr(files[2].size() - 5), std::string(".pcap"));
  CHECK_EQ(count(dir + "/" + files[0]), 10u);
  CHECK_EQ(count(dir + "/" + files[2]), 5u);
  remove_tree(dir);
}

TEST(writer_rotates_by_packet_time) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/t.pcapng";
  o.format = FileFormat::kPcapng;
  o.rotation.seconds = 2;
  o.list_rotated = true;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 10, 1700000000000000000ull, 500000000ull, 50);  // 5 s of packets
  w.close();
  auto files = list(dir);
  CHECK_EQ(files.size(), 3u);  // [0,2) [2,4) [4,4.5]
  uint64_t total = 0;
  for (const auto& f : files) total += count(dir + "/" + f);
  CHECK_EQ(total, 10u);
  CHECK_EQ(count(dir + "/" + files[0]), 4u);
  // Each named by its first packet's time, the first file too (opened before any packet).
  const std::vector<std::string> names = {"t_00001_20231114221320.pcapng", "t_00002_20231114221322.pcapng",
                                          "t_00003_20231114221324.pcapng"};
  CHECK(files == names);
  std::vector<std::string> listed;
  for (const auto& f : w.files()) listed.push_back(f.substr(dir.size() + 1));
  CHECK(listed == names);
  // Closed by rotation (for -z): the first two; the last, closed by close(), is not one.
  CHECK(w.take_rotated_files() == std::vector<std::string>({dir + "/" + names[0], dir + "/" + names[1]}));
  CHECK(w.take_rotated_files().empty());
  remove_tree(dir);
}

// The first file keeps its opening name when its packet-time name is another file's: renamed,
// that file would be lost.
TEST(writer_keeps_the_first_name_when_the_packet_time_name_is_taken) {
  const std::string dir = temp_dir();
  const std::string taken = dir + "/t_00001_20231114221320.pcapng";
  std::ofstream(taken) << "not ours";
  WriterOptions o;
  o.path = dir + "/t.pcapng";
  o.format = FileFormat::kPcapng;
  o.rotation.seconds = 60;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 3, 1700000000000000000ull, 1000, 50);
  w.close();
  CHECK_EQ(list(dir).size(), 2u);
  CHECK(slurp(taken) == std::vector<uint8_t>({'n', 'o', 't', ' ', 'o', 'u', 'r', 's'}));
  CHECK_EQ(w.files().size(), 1u);
  CHECK(w.files()[0] != taken);
  CHECK_EQ(count(w.files()[0]), 3u);
  remove_tree(dir);
}

TEST(writer_errors_name_the_path) {
  WriterOptions o;
  o.path = "/nonexistent-dir/x.pcap";
  bool threw = false;
  try {
    CaptureWriter w(o);
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(e.kind() == ErrorKind::kOutput);
    CHECK_EQ(std::string(e.what()), std::string("/nonexistent-dir/x.pcap: cannot create: No such file or directory"));
  }
  CHECK(threw);

  const std::string dir = temp_dir();
  WriterOptions p;
  p.path = dir + "/mixed.pcap";
  p.format = FileFormat::kPcap;
  CaptureWriter w(p);
  w.add_interface(iface("eth0", 1));
  threw = false;
  try {
    w.add_interface(iface("lo", 772));
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK(std::string(e.what()).find("pcap holds one link type") != std::string::npos);
  }
  CHECK(threw);
  w.close();
  CHECK_EQ(count(p.path), 0u);  // still a valid, empty capture
  remove_tree(dir);
}

TEST(writer_format_from_extension) {
  CHECK(format_from_path("a.pcapng") == FileFormat::kPcapng);
  CHECK(format_from_path("a.PCAPNG") == FileFormat::kPcapng);
  CHECK(format_from_path("a.pcap") == FileFormat::kPcap);
  CHECK(format_from_path("/dev/null") == FileFormat::kPcap);
}

namespace {

// The interface ids and IDB count of a pcapng file, walking its blocks.
struct BlockCounts {
  int idbs = 0, epbs = 0, isbs = 0;
  uint32_t max_epb_iface = 0;
};
BlockCounts blocks_of(const std::string& path) {
  const auto bytes = slurp(path);
  BlockCounts c;
  for (size_t off = 0; off + 12 <= bytes.size();) {
    const uint32_t type = u32(bytes, off), len = u32(bytes, off + 4);
    if (type == 1) ++c.idbs;
    if (type == 5) ++c.isbs;
    if (type == 6) {
      ++c.epbs;
      c.max_epb_iface = std::max(c.max_epb_iface, u32(bytes, off + 8));
    }
    if (len < 12) break;
    off += len;
  }
  return c;
}

}  // namespace

// 200 interfaces, each file after rotation holds only the IDBs (and ISBs) of the interfaces it
// has packets of, with its own ids: file size stays near -C however many interfaces exist.
TEST(writer_interfaces_on_first_use_keep_rotated_files_small) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/many.pcapng";
  o.format = FileFormat::kPcapng;
  o.interfaces_on_first_use = true;
  o.rotation.max_bytes = 4000;
  CaptureWriter w(o);
  for (int i = 0; i < 200; ++i) w.add_interface(iface("if" + std::to_string(i)));
  // 200 packets, interface i for packet i: each file sees only a few interfaces.
  std::vector<uint8_t> data(100, 0x11);
  for (uint32_t i = 0; i < 200; ++i) {
    PacketRecord r;
    r.ts_ns = 1700000000000000000ull + i;
    r.caplen = r.origlen = 100;
    r.iface = i;
    w.write(r, data.data());
  }
  w.close();
  const auto files = list(dir);
  CHECK(files.size() > 5);
  uint64_t packets = 0;
  for (const auto& f : files) {
    const std::string p = dir + "/" + f;
    const BlockCounts c = blocks_of(p);
    CHECK_EQ(c.idbs, c.epbs);  // one new interface per packet
    CHECK_EQ(c.isbs, c.idbs);
    CHECK(c.max_epb_iface < static_cast<uint32_t>(c.idbs));
    CHECK(slurp(p).size() <= 4000u);  // -C holds, the ISBs written at close included
    auto rd = FileReader::open(p);
    Batch b;
    CHECK(rd->read(b, 1000, 1 << 20) == ReadStatus::kEnd);
    packets += b.size();
    // the names travel with the ids: the file's first packet is of the interface named in its IDB 0
    CHECK_EQ(rd->interfaces()[0].name.substr(0, 2), std::string("if"));
  }
  CHECK_EQ(packets, 200u);
  remove_tree(dir);
}

// file_bytes_with: the size the file has once closed, asked before its last write (a new
// interface's IDB, a packet with options, and the ISBs of interfaces on first use included).
TEST(writer_file_bytes_with_predicts_the_closed_size) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/size.pcapng";
  o.format = FileFormat::kPcapng;
  o.interfaces_on_first_use = true;
  o.section.comments = {"sized"};
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  w.add_interface(iface("tun0", 101));
  write_packets(w, 3, 1700000000000000000ull, 1000, 61);
  PacketRecord r;
  r.ts_ns = 1700000001000000000ull;
  r.caplen = r.origlen = 5;
  r.iface = 1;
  r.optlen = 8;
  const uint8_t with_opt[5 + 8] = {1, 2, 3, 4, 5, /* opt_comment len 3 */ 1, 0, 3, 0, 'h', 'e', 'y', 0};
  const uint64_t predicted = w.file_bytes_with(r);
  w.write(r, with_opt);
  w.close();
  CHECK_EQ(slurp(o.path).size(), predicted);
  CHECK_EQ(w.bytes_written(), predicted);
  remove_tree(dir);
}

TEST(writer_refuses_a_path_open_in_another_writer_and_exclusive_never_truncates) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/one.pcapng";
  o.format = FileFormat::kPcapng;
  auto first = std::make_unique<CaptureWriter>(o);
  first->add_interface(iface("eth0"));
  write_packets(*first, 5, 1000, 1, 60);
  bool threw = false;
  try {
    CaptureWriter second(o);
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(e.kind() == ErrorKind::kOutput);
    CHECK_EQ(std::string(e.what()), o.path + ": already open for writing in this process");
  }
  CHECK(threw);
  first->close();
  CHECK_EQ(count(o.path), 5u);  // untouched by the refused writer

  WriterOptions x = o;
  x.exclusive = true;
  threw = false;
  try {
    CaptureWriter again(x);
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(std::string(e.what()).find("exists already (not overwritten)") != std::string::npos);
  }
  CHECK(threw);
  CHECK_EQ(count(o.path), 5u);
  // once closed, the path is free again for a writer that may truncate
  CaptureWriter reopened(o);
  reopened.close();
  CHECK_EQ(count(o.path), 0u);
  remove_tree(dir);
}

namespace {
std::string local_name(const char* pattern, time_t secs) {
  struct tm tm;
  localtime_r(&secs, &tm);
  char buf[256];
  strftime(buf, sizeof buf, pattern, &tm);
  return buf;
}
}  // namespace

// tcpdump's -G -w 'cap-%H%M%S.pcap': each file named by its first packet's local time, as it is.
TEST(writer_strftime_names_are_the_pattern_of_each_files_start) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/cap-%Y%m%d-%H%M%S.pcap";
  o.format = FileFormat::kPcap;
  o.rotation.seconds = 2;
  o.strftime_names = true;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 10, 1700000000000000000ull, 500000000ull, 50);  // 5 s: [0,2) [2,4) [4,4.5]
  w.close();
  std::vector<std::string> want;
  for (time_t t : {1700000000, 1700000002, 1700000004}) want.push_back(local_name("cap-%Y%m%d-%H%M%S.pcap", t));
  CHECK(list(dir) == want);
  CHECK_EQ(count(dir + "/" + want[0]) + count(dir + "/" + want[1]) + count(dir + "/" + want[2]), 10u);
  remove_tree(dir);
}

// A pattern coarser than -G names two files alike: the later ones are numbered, none truncated;
// with -C every file is numbered (several files start within one second).
TEST(writer_strftime_names_number_repeats_and_size_rotation) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/day-%Y%m%d.pcap";
  o.format = FileFormat::kPcap;
  o.rotation.seconds = 2;
  o.strftime_names = true;
  {
    CaptureWriter w(o);
    w.add_interface(iface("eth0"));
    write_packets(w, 10, 1700000000000000000ull, 500000000ull, 50);
    w.close();
  }
  const std::string day = local_name("day-%Y%m%d", 1700000000);
  CHECK(list(dir) == std::vector<std::string>({day + ".pcap", day + "_00002.pcap", day + "_00003.pcap"}));
  CHECK_EQ(count(dir + "/" + day + ".pcap"), 4u);
  remove_tree(dir);

  const std::string dir2 = temp_dir();
  o.path = dir2 + "/c-%Y.pcap";
  o.rotation.seconds = 3600;
  o.rotation.max_bytes = 24 + 10 * (16 + 100);  // 10 records per file
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 25, 1700000000000000000ull, 1000, 100);
  w.close();
  const std::string year = local_name("c-%Y", 1700000000);
  CHECK(list(dir2) == std::vector<std::string>({year + "_00001.pcap", year + "_00002.pcap", year + "_00003.pcap"}));
  remove_tree(dir2);
}

// Packet times 5,000 s apart, written at once: by the writer's clock that is one file.
TEST(writer_rotates_by_its_own_clock_when_asked) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/g.pcapng";
  o.format = FileFormat::kPcapng;
  o.rotation.seconds = 60;
  o.rotation.seconds_by_wall_clock = true;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 100, 1700000000000000000ull, 50000000000ull, 50);
  w.close();
  CHECK_EQ(list(dir).size(), 1u);
  CHECK_EQ(count(dir + "/" + list(dir)[0]), 100u);
  CHECK(list(dir)[0].find("_20231114") == std::string::npos);  // named by the clock, not the packets
  remove_tree(dir);
}

// A write error (/dev/full: ENOSPC) is thrown naming the file, and close still releases the path.
TEST(writer_disk_full_is_an_error_and_close_releases_the_file) {
  WriterOptions o;
  o.path = "/dev/full";
  o.format = FileFormat::kPcapng;
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  write_packets(w, 3, 1000, 1, 60);
  bool threw = false;
  try {
    w.flush();
  } catch (const CaptureError& e) {
    threw = true;
    CHECK(std::string(e.what()).find("/dev/full: write failed: No space left on device") == 0);
  }
  CHECK(threw);
  threw = false;
  try {
    w.close();
  } catch (const CaptureError&) {
    threw = true;
  }
  CHECK(threw);
  CaptureWriter again(o);  // the path was given back
  again.add_interface(iface("eth0"));
  threw = false;
  try {
    again.close();
  } catch (const CaptureError&) {
    threw = true;
  }
  CHECK(threw);
}

namespace {

// Writes `batches` batches (each written and handed to the kernel by `write_batch`) into a file
// that cannot grow past a limit, then closes it; how many of them, and the close, failed with
// the file-size error.
int failures_until_closed(CaptureWriter& w, int batches, const std::function<void(int)>& write_batch) {
  int failures = 0;
  for (int batch = 0; batch < batches; ++batch) {
    try {
      write_batch(batch);
    } catch (const CaptureError& e) {
      ++failures;
      CHECK(std::string(e.what()).find("write failed: File too large") != std::string::npos);
    }
  }
  try {
    w.close();
  } catch (const CaptureError&) {
    ++failures;
  }
  return failures;
}

}  // namespace

// A file that cannot grow (RLIMIT_FSIZE: writes past 6000 bytes fail part-way with EFBIG, as on a
// full disk) is cut back to its last block written: valid, every packet in it whole, and the
// writer goes on from there (here: failing again) without damaging it.
TEST(writer_keeps_the_file_valid_when_a_write_fails_part_way) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/full.pcapng";
  o.format = FileFormat::kPcapng;
  o.interfaces_on_first_use = true;
  int failures = 0;
  {
    const FileSizeLimit limit(6000);
    CaptureWriter w(o);
    w.add_interface(iface("eth0"));
    w.add_interface(iface("eth1"));
    failures = failures_until_closed(w, 10, [&](int batch) {
      write_packets(w, 7, 1000 + batch * 10, 1, 100, batch % 2);
      w.flush();
    });
  }
  CHECK_EQ(failures, 4);  // batches 7 to 10; the ISBs at close fit again after the cut
  CHECK_EQ(count(o.path), 42u);  // the first 6 flushes, whole (~0 if the reader finds damage)
  CHECK(slurp(o.path).size() <= 6000u);
  CHECK_EQ(blocks_of(o.path).isbs, 2);
  remove_tree(dir);
}

namespace {

// Packets of sizes around kReferencedMinBytes (copied below it, referenced from it on), each
// filled with its own byte, written by copy or by reference into `path`; `after` is called after
// each packet with its index.
void write_mixed(const WriterOptions& o, bool referenced, std::vector<std::vector<uint8_t>>& packets,
                 const std::function<void(CaptureWriter&, size_t)>& after = {}) {
  CaptureWriter w(o);
  w.add_interface(iface("eth0"));
  w.add_interface(iface("eth1"));
  for (size_t i = 0; i < packets.size(); ++i) {
    PacketRecord r;
    r.ts_ns = 1700000000000000000ull + i * 1000;
    r.caplen = static_cast<uint32_t>(packets[i].size());
    r.origlen = r.caplen + 3;
    r.iface = static_cast<uint32_t>(i % 2);
    if (referenced) w.write_referenced(r, packets[i].data());
    else w.write(r, packets[i].data());
    if (referenced && i % 1400 == 1399) {
      w.release_referenced();
      std::fill(packets[i].begin(), packets[i].end(), 0xee);  // the kernel has them: reuse cannot reach the file
    }
    if (after) after(w, i);
  }
  w.release_referenced();
  w.close();
}

// The files of two folders, in name order, byte for byte the same (several when `rotated`, else
// one); returns the packets they hold, and removes both folders.
uint64_t same_files(const std::string& dir_a, const std::string& dir_b, bool rotated) {
  const auto a = list(dir_a), b = list(dir_b);
  CHECK_EQ(a.size(), b.size());
  CHECK(rotated ? a.size() > 1 : a.size() == 1);
  uint64_t packets = 0;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    CHECK(slurp(dir_a + "/" + a[k]) == slurp(dir_b + "/" + b[k]));
    packets += count(dir_b + "/" + b[k]);
  }
  remove_tree(dir_a);
  remove_tree(dir_b);
  return packets;
}

std::vector<std::vector<uint8_t>> mixed_packets(size_t n) {
  const uint32_t sizes[] = {60, 511, 512, 513, 1500, 9000, 1, 2047};
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(sizes[i % 8], static_cast<uint8_t>(i * 7 + 1));
  return out;
}

}  // namespace

// write_referenced leaves large packets where they are until release_referenced (writev), yet the
// files are byte for byte those of write(): pcapng and pcap, one file and rotated by size, with
// more referenced packets than one writev takes (IOV_MAX) between releases.
TEST(writer_referenced_packets_make_the_same_files_as_copied_ones) {
  for (FileFormat f : {FileFormat::kPcapng, FileFormat::kPcap}) {
    for (uint64_t rotate : {uint64_t{0}, uint64_t{300000}}) {
      const std::string dir_copy = temp_dir(), dir_ref = temp_dir();
      WriterOptions o;
      o.format = f;
      o.rotation.max_bytes = rotate;
      o.interfaces_on_first_use = f == FileFormat::kPcapng && rotate != 0;
      o.buffer_bytes = 64 * 1024;
      auto copied = mixed_packets(2600), referenced = mixed_packets(2600);
      o.path = dir_copy + "/m.pcapng";
      write_mixed(o, false, copied);
      o.path = dir_ref + "/m.pcapng";
      write_mixed(o, true, referenced);
      CHECK_EQ(same_files(dir_copy, dir_ref, rotate != 0), 2600u);
    }
  }
}

// A write of referenced packets failing part-way (RLIMIT_FSIZE) cuts the file back to its last
// whole block, as with copied ones; what was referenced is forgotten, not written later.
TEST(writer_referenced_packets_keep_the_file_valid_when_a_write_fails) {
  const std::string dir = temp_dir();
  WriterOptions o;
  o.path = dir + "/full.pcapng";
  o.format = FileFormat::kPcapng;
  int failures = 0;
  std::vector<uint8_t> data(1000, 0x5a);
  {
    const FileSizeLimit limit(20000);
    CaptureWriter w(o);
    w.add_interface(iface("eth0"));
    failures = failures_until_closed(w, 6, [&](int batch) {
      for (int i = 0; i < 5; ++i) {
        PacketRecord r;
        r.ts_ns = 1000 + batch * 10 + i;
        r.caplen = r.origlen = 1000;
        w.write_referenced(r, data.data());
      }
      w.release_referenced();
    });
  }
  CHECK_EQ(failures, 3);  // batches 4 to 6 (5 packets of 1032 bytes each)
  CHECK_EQ(count(o.path), 15u);
  CHECK(slurp(o.path).size() <= 20000u);
  remove_tree(dir);
}

namespace {

// Whether files in `dir` are written around the page cache (not on tmpfs, where the pages are the file):
// where they cannot, the direct tests still compare the files, written through the page cache.
bool direct_io_in(const std::string& dir) {
  const std::string probe = dir + "/probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::close(fd);
  const bool takes_it = DirectFile::open(probe, 4096, 4096) != nullptr;
  unlink(probe.c_str());
  if (!takes_it) std::printf("note: %s does not take O_DIRECT; direct writers there write through the page cache\n", dir.c_str());
  return takes_it;
}

}  // namespace

// Written around the page cache, the files are byte for byte those written through it: pcapng
// and pcap, one file and rotated by size, packets copied and referenced, flushed at odd points
// (each flush writes the part of a block still held, which the next chunk writes again).
TEST(writer_direct_io_makes_the_same_files) {
  for (FileFormat f : {FileFormat::kPcapng, FileFormat::kPcap}) {
    for (uint64_t rotate : {uint64_t{0}, uint64_t{3000000}}) {
      const std::string dir_cache = temp_dir(), dir_direct = temp_dir();
      const bool direct_here = direct_io_in(dir_direct);
      for (bool direct : {false, true}) {
        WriterOptions o;
        o.format = f;
        o.rotation.max_bytes = rotate;
        o.interfaces_on_first_use = f == FileFormat::kPcapng && rotate != 0;
        o.buffer_bytes = 64 * 1024;
        o.direct_io = direct;
        o.path = (direct ? dir_direct : dir_cache) + "/d.pcapng";
        auto packets = mixed_packets(9000);
        write_mixed(o, true, packets, [&](CaptureWriter& w, size_t i) {
          if (i == 0) CHECK_EQ(w.writing_direct(), direct && direct_here);
          if (i % 5 == 4) w.release_referenced();
          if (i % 997 == 0) {
            w.flush();
            struct stat st;
            CHECK_EQ(stat(w.files().back().c_str(), &st), 0);
            CHECK(rotate || static_cast<uint64_t>(st.st_size) == w.bytes_written());  // everything, no more
          }
        });
      }
      CHECK_EQ(same_files(dir_cache, dir_direct, rotate != 0), 9000u);
    }
  }
}

// A busy file's chunks grow to the largest size, an idle one's go back to the smallest at the
// next sync; what was appended is in the file, exactly, after each sync.
TEST(direct_file_grows_its_chunks_while_busy_and_shrinks_them_when_idle) {
  const std::string dir = temp_dir();
  if (!direct_io_in(dir)) {
    remove_tree(dir);
    return;
  }
  const std::string path = dir + "/f";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto file = DirectFile::open(path, 64 * 1024, 1 << 20);
  CHECK(file != nullptr);
  std::vector<uint8_t> expected;
  std::vector<uint8_t> part(1500);
  for (int i = 0; i < 6000; ++i) {
    for (size_t k = 0; k < part.size(); ++k) part[k] = static_cast<uint8_t>(i * 31 + k);
    const iovec v{part.data(), part.size()};
    CHECK_EQ(file->append(&v, 1), 0);
    expected.insert(expected.end(), part.begin(), part.end());
  }
  CHECK_EQ(file->chunk_bytes(), size_t{1} << 20);
  CHECK_EQ(file->sync(fd), 0);
  CHECK(slurp(path) == expected);
  CHECK_EQ(file->sync(fd), 0);  // nothing filled since: idle
  CHECK_EQ(file->chunk_bytes(), size_t{64 * 1024});
  const iovec tail{part.data(), 100};
  CHECK_EQ(file->append(&tail, 1), 0);
  expected.insert(expected.end(), part.begin(), part.begin() + 100);
  CHECK_EQ(file->sync(fd), 0);
  CHECK_EQ(file->appended(), expected.size());
  file.reset();
  ::close(fd);
  CHECK(slurp(path) == expected);
  remove_tree(dir);
}

// Written around the page cache, a file that cannot grow (RLIMIT_FSIZE, as a full disk) is cut
// back to a block boundary the device had taken whole: valid, holding every batch whose flush
// succeeded and at most part of the one that failed; the writer goes on through the page cache
// from there (and fails again, keeping what fits).
TEST(writer_direct_failed_write_cuts_back_to_the_last_flush) {
  const std::string dir = temp_dir();
  if (!direct_io_in(dir)) {
    remove_tree(dir);
    return;
  }
  WriterOptions o;
  o.path = dir + "/full.pcapng";
  o.format = FileFormat::kPcapng;
  o.direct_io = true;
  o.buffer_bytes = 64 * 1024;
  uint64_t kept = 0, at_first_failure = 0;
  int failures = 0;
  bool direct_at_first = false, direct_after = true;
  {
    const FileSizeLimit limit(3 << 20);
    CaptureWriter w(o);
    direct_at_first = w.writing_direct();
    w.add_interface(iface("eth0"));
    for (int batch = 0; batch < 12; ++batch) {
      try {
        write_packets(w, 300, 1000 + batch * 1000, 1, 1500);
        w.flush();
        kept += 300;
      } catch (const CaptureError& e) {
        if (++failures == 1) at_first_failure = count(o.path);
        CHECK(std::string(e.what()).find("full.pcapng: write failed: ") != std::string::npos);
      }
    }
    direct_after = w.writing_direct();
    try {
      w.close();
    } catch (const CaptureError&) {
      ++failures;
    }
  }
  CHECK(direct_at_first);
  CHECK(!direct_after);
  CHECK(failures >= 1);
  CHECK_EQ(kept, 1800u);  // 6 batches of 0.46 MB fit under 3 MiB, the 7th does not
  CHECK(at_first_failure >= kept && at_first_failure < kept + 300);
  const uint64_t in_file = count(o.path);  // valid: ~0 if the reader finds damage
  CHECK(in_file >= kept && in_file < kept + 300);
  CHECK(slurp(o.path).size() <= size_t{3 << 20});
  remove_tree(dir);
}

// On tmpfs the page cache is the file (O_DIRECT, which Linux takes there since 6.6, still copies
// into it), so a writer asked for direct_io writes through it, without chunks and a thread.
TEST(direct_file_leaves_tmpfs_to_the_page_cache) {
  struct statfs fs;
  if (statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    std::printf("note: /dev/shm is not tmpfs here; not checked\n");
    return;
  }
  char tmpl[] = "/dev/shm/podspan-direct-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  WriterOptions o;
  o.path = dir + "/t.pcapng";
  o.direct_io = true;
  {
    CaptureWriter w(o);
    CHECK(!w.writing_direct());
    w.add_interface(iface("eth0"));
    write_packets(w, 10, 1000, 1, 1500);
    w.close();
  }
  CHECK_EQ(count(o.path), 10u);
  remove_tree(dir);
}
