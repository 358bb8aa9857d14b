// EvidenceRecorder: a trigger writes the ring's packets from pre_trigger before the alert and the
// packets up to post_trigger after it (read back with our pcapng reader and judged by tshark),
// comments in the SHB and on the alert's first packet, concurrent recordings, the caps (counted,
// never thrown), max_file_bytes, finish() mid-recording, and no allocation per packet.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alloc_count.h"
#include "check.h"
#include "detection/evidence.h"
#include "file_size_limit.h"
#include "pcap/file_reader.h"

using namespace podspan;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kT0 = 1700000000ull * kSec;  // a realistic epoch: tshark prints dates from it

void remove_tree(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      const std::string p = dir + "/" + n;
      struct stat st;
      if (lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        remove_tree(p);
      } else {
        unlink(p.c_str());
      }
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

// A fresh directory, removed with all inside when the test ends (also after a failed check).
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/podspan-evidence-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { remove_tree(path); }
};

std::vector<uint8_t> frame(uint32_t seq, size_t len) {
  std::vector<uint8_t> b(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(seq * 13 + i);
  std::memcpy(b.data(), &seq, 4);
  return b;
}

InterfaceInfo iface(const std::string& name, uint16_t linktype = kLinktypeEthernet) {
  InterfaceInfo i;
  i.name = name;
  i.linktype = linktype;
  i.snaplen = 65535;
  return i;
}

// Feeds frame `seq` at time ts (len bytes) to the recorder.
void feed(EvidenceRecorder& ev, uint32_t seq, uint64_t ts, size_t len = 120, uint32_t ifc = 0) {
  const auto b = frame(seq, len);
  PacketRecord r;
  r.ts_ns = ts;
  r.caplen = static_cast<uint32_t>(len);
  r.origlen = static_cast<uint32_t>(len);
  r.iface = ifc;
  ev.record(r, b.data());
}

struct Packet {
  uint64_t ts;
  uint32_t seq, iface;
  bool intact;
  std::vector<std::string> comments;
};

struct Contents {
  bool valid = false;  // read to its end without error
  std::vector<std::string> shb_comments;
  std::vector<InterfaceInfo> ifaces;
  std::vector<Packet> packets;
  size_t file_bytes = 0;
};

Contents read_back(const std::string& path) {
  Contents c;
  auto r = FileReader::open(path);
  Batch b;
  ReadStatus st;
  do {
    st = r->read(b, 1000, 1 << 20);
    for (const PacketRecord& rec : b.records) {
      const uint8_t* p = b.bytes(rec);
      Packet k{rec.ts_ns, 0, rec.iface, true, {}};
      std::memcpy(&k.seq, p, 4);
      const auto want = frame(k.seq, rec.caplen);
      k.intact = std::memcmp(want.data(), p, rec.caplen) == 0;
      for (size_t off = 0; off + 4 <= rec.optlen;) {  // the reader keeps options as padded TLVs
        uint16_t code, len;
        std::memcpy(&code, p + rec.caplen + off, 2);
        std::memcpy(&len, p + rec.caplen + off + 2, 2);
        if (code == 1) k.comments.emplace_back(reinterpret_cast<const char*>(p + rec.caplen + off + 4), len);
        off += 4 + ((len + 3u) & ~3u);
      }
      c.packets.push_back(std::move(k));
    }
  } while (st == ReadStatus::kOk);
  c.valid = st == ReadStatus::kEnd;
  c.ifaces = r->interfaces();
  if (!r->sections().empty()) c.shb_comments = r->sections()[0].comments;
  c.file_bytes = r->contents_size();
  return c;
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

size_t file_size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

// A recorder writing into dir, with one Ethernet interface (eth0); `tune` changes the options.
std::unique_ptr<EvidenceRecorder> recorder(const std::string& dir, const std::function<void(EvidenceOptions&)>& tune = {}) {
  EvidenceOptions o;
  o.dir = dir;
  o.pre_trigger_ns = 2 * kSec;
  o.post_trigger_ns = 3 * kSec;
  o.ring_bytes = 1 << 20;
  o.section.userappl = "podspan test";
  if (tune) tune(o);
  auto ev = std::make_unique<EvidenceRecorder>(std::move(o));
  ev->add_interface(iface("eth0"));
  return ev;
}

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

}  // namespace

TEST(evidence_trigger_writes_packets_before_and_after_the_alert) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root + "/evidence");  // the directory does not exist yet
  // A packet every 100 ms from t0 to t0 + 10.5 s; the alert (for the second at t0 + 10 s) comes
  // after the packet at 10.5 s, as the detector raises it once that second is over.
  uint32_t seq = 0;
  for (; seq <= 105; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  const std::string name = ev->trigger("A1-syn_flood", "alert A1 syn_flood 10.0.0.1:80", kT0 + 10 * kSec);
  CHECK_EQ(name, std::string("evidence/A1-syn_flood.pcapng"));
  CHECK_EQ(ev->stats().open, 1u);
  // Packets go on to t0 + 20 s: the recording ends with the first one past t0 + 13 s.
  for (; seq <= 200; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  const EvidenceStats s = ev->stats();
  CHECK_EQ(s.open, 0u);
  CHECK_EQ(s.files, 1u);
  const std::string path = root + "/evidence/A1-syn_flood.pcapng";
  const Contents c = read_back(path);
  CHECK(c.valid);
  // The ring holds 2 s back from its newest packet (10.5 s), so the file starts at 8.5 s, not at
  // 8.0 s (alert - pre_trigger); it ends at 13.0 s: 21 packets from the ring, 25 recorded after.
  CHECK_EQ(c.packets.size(), 46u);
  CHECK_EQ(s.packets_written, 46u);
  CHECK_EQ(s.bytes_written, c.file_bytes);
  bool in_order = true, intact = true;
  for (size_t i = 0; i < c.packets.size(); ++i) {
    in_order = in_order && c.packets[i].seq == 85 + i && c.packets[i].ts == kT0 + (85 + i) * kSec / 10;
    intact = intact && c.packets[i].intact;
  }
  CHECK(in_order);
  CHECK(intact);
  // The comment: in the SHB, and on the packet at the alert's time only.
  CHECK_EQ(c.shb_comments.size(), 1u);
  if (!c.shb_comments.empty()) CHECK_EQ(c.shb_comments[0], std::string("alert A1 syn_flood 10.0.0.1:80"));
  size_t commented = 0;
  for (const auto& p : c.packets) {
    if (p.comments.empty()) continue;
    ++commented;
    CHECK_EQ(p.ts, kT0 + 10 * kSec);
    CHECK_EQ(p.comments[0], std::string("alert A1 syn_flood 10.0.0.1:80"));
  }
  CHECK_EQ(commented, 1u);
  CHECK_EQ(c.ifaces.size(), 1u);

  // tshark, an independent reader, opens the file and sees the same packets and comments.
  // (Skipped with a line where tshark is not installed.)
  if (run("command -v tshark").empty()) {
    std::printf("  tshark not installed: evidence file not checked by it\n");
  } else {
    const std::string fields =
        run("tshark -r " + path + " -T fields -e frame.time_epoch -e frame.comment 2>/dev/null");
    size_t lines = 0, comment_lines = 0;
    for (size_t at = 0; (at = fields.find('\n', at)) != std::string::npos; ++at) ++lines;
    for (size_t at = 0; (at = fields.find("alert A1 syn_flood", at)) != std::string::npos; ++at) ++comment_lines;
    CHECK_EQ(lines, 46u);
    CHECK_EQ(comment_lines, 1u);
    CHECK(fields.rfind("1700000008.500000000", 0) == 0);  // the first packet: before the alert
    CHECK(fields.find("1700000010.000000000\talert A1 syn_flood 10.0.0.1:80") != std::string::npos);
    CHECK(run("capinfos -k " + path + " 2>/dev/null").find("alert A1 syn_flood 10.0.0.1:80") != std::string::npos);
  }
}

TEST(evidence_one_idb_per_interface_used_and_packet_options_kept) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root);
  ev->add_interface(iface("unused"));
  ev->add_interface(iface("tun0", kLinktypeRaw));
  feed(*ev, 1, kT0, 80, 0);
  feed(*ev, 2, kT0 + 1, 80, 2);
  CHECK(!ev->trigger("A2-port_scan", "scan", kT0 + 2).empty());
  // A frame with its own pcapng option (a comment, as read from a file) keeps it, after ours.
  std::vector<uint8_t> b = frame(3, 64);
  const uint8_t opt[8] = {1, 0, 3, 0, 'o', 'w', 'n', 0};
  b.insert(b.end(), opt, opt + 8);
  PacketRecord r;
  r.ts_ns = kT0 + 3;
  r.caplen = r.origlen = 64;
  r.iface = 2;
  r.optlen = 8;
  ev->record(r, b.data());
  ev->finish();
  const Contents c = read_back(root + "/A2-port_scan.pcapng");
  CHECK(c.valid);
  CHECK_EQ(c.ifaces.size(), 2u);  // eth0 and tun0: "unused" had no packet
  if (c.ifaces.size() == 2) {
    CHECK_EQ(c.ifaces[0].name, std::string("eth0"));
    CHECK_EQ(c.ifaces[1].name, std::string("tun0"));
    CHECK_EQ(c.ifaces[1].linktype, kLinktypeRaw);
  }
  CHECK_EQ(c.packets.size(), 3u);
  if (c.packets.size() == 3) {
    CHECK_EQ(c.packets[2].iface, 1u);
    CHECK_EQ(c.packets[2].comments.size(), 2u);
    if (c.packets[2].comments.size() == 2) {
      CHECK_EQ(c.packets[2].comments[0], std::string("scan"));
      CHECK_EQ(c.packets[2].comments[1], std::string("own"));
    }
    CHECK(c.packets[2].intact);
  }
}

TEST(evidence_concurrent_recordings_and_max_open) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.max_open = 2;
  });
  uint32_t seq = 0;
  for (; seq <= 50; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  CHECK_EQ(ev->trigger("A1-x", "first", kT0 + 5 * kSec), std::string(root.substr(root.rfind('/') + 1) + "/A1-x.pcapng"));
  for (; seq <= 70; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  CHECK(!ev->trigger("A2-y", "second", kT0 + 7 * kSec).empty());
  CHECK_EQ(ev->trigger("A3-z", "third", kT0 + 7 * kSec), std::string());  // two open already
  CHECK(!exists(root + "/A3-z.pcapng"));
  for (; seq <= 150; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  const EvidenceStats s = ev->stats();
  CHECK_EQ(s.files, 2u);
  CHECK_EQ(s.refused, 1u);
  CHECK_EQ(s.open, 0u);
  const Contents a = read_back(root + "/A1-x.pcapng"), b = read_back(root + "/A2-y.pcapng");
  CHECK(a.valid);
  CHECK(b.valid);
  // A1: 3.0 .. 8.0 s; A2: 5.0 .. 10.0 s.
  CHECK_EQ(a.packets.size(), 51u);
  CHECK_EQ(b.packets.size(), 51u);
  if (!a.packets.empty() && !b.packets.empty()) {
    CHECK_EQ(a.packets.front().seq, 30u);
    CHECK_EQ(a.packets.back().seq, 80u);
    CHECK_EQ(b.packets.front().seq, 50u);
    CHECK_EQ(b.packets.back().seq, 100u);
  }
  CHECK_EQ(s.packets_written, 102u);
  CHECK_EQ(s.bytes_written, a.file_bytes + b.file_bytes);
}

TEST(evidence_caps_and_failures_are_counted_never_thrown) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.max_files = 2;
  });
  feed(*ev, 1, kT0);
  // Names that are not a plain file name stem.
  CHECK_EQ(ev->trigger("../escape", "c", kT0), std::string());
  CHECK_EQ(ev->trigger("", "c", kT0), std::string());
  CHECK_EQ(ev->trigger(".hidden", "c", kT0), std::string());
  CHECK(!exists(root + "/../escape.pcapng"));
  EvidenceStats s = ev->stats();
  CHECK_EQ(s.failed, 3u);
  CHECK_EQ(s.files, 0u);
  // max_files: two files this run, then refused, even with none open.
  CHECK(!ev->trigger("A1", "c", kT0).empty());
  CHECK(!ev->trigger("A2", "c", kT0).empty());
  feed(*ev, 2, kT0 + 10 * kSec);  // past both recordings: closed
  CHECK_EQ(ev->stats().open, 0u);
  CHECK_EQ(ev->trigger("A3", "c", kT0 + 10 * kSec), std::string());
  s = ev->stats();
  CHECK_EQ(s.files, 2u);
  CHECK_EQ(s.refused, 1u);
  CHECK(!exists(root + "/A3.pcapng"));
  // A directory that cannot be made (a file is in the way).
  { std::ofstream(root + "/taken.pcapng") << "not ours"; }
  auto blocked = recorder(root + "/taken.pcapng/sub");
  CHECK_EQ(blocked->trigger("A1", "c", kT0), std::string());
  CHECK_EQ(blocked->stats().failed, 1u);
}

// A name taken (a run before this one wrote into the same dir, or any other file): never
// overwritten; the recording goes to <name>-2.pcapng, -3, ..., and trigger says which.
TEST(evidence_taken_name_gets_a_suffix_never_an_overwrite) {
  TempDir tmp;
  const std::string& root = tmp.path;
  const std::string base = root.substr(root.rfind('/') + 1);
  { std::ofstream(root + "/A1-syn_flood.pcapng") << "an earlier run's"; }
  auto ev = recorder(root);
  feed(*ev, 1, kT0);
  CHECK_EQ(ev->trigger("A1-syn_flood", "again", kT0), base + "/A1-syn_flood-2.pcapng");
  CHECK_EQ(ev->trigger("A1-syn_flood", "and again", kT0), base + "/A1-syn_flood-3.pcapng");
  ev->finish();
  CHECK_EQ(file_size(root + "/A1-syn_flood.pcapng"), 16u);
  const Contents c = read_back(root + "/A1-syn_flood-2.pcapng");
  CHECK(c.valid);
  CHECK_EQ(c.packets.size(), 1u);
  if (!c.shb_comments.empty()) CHECK_EQ(c.shb_comments[0], std::string("again"));
  CHECK_EQ(ev->stats().files, 2u);
  CHECK_EQ(ev->stats().failed, 0u);
}

TEST(evidence_max_file_bytes_closes_a_valid_file_under_the_cap) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.max_file_bytes = 8192;
  });
  CHECK(!ev->trigger("A1-big", "cap", kT0).empty());
  for (uint32_t seq = 0; seq < 100; ++seq) feed(*ev, seq, kT0 + seq, 300);
  const EvidenceStats s = ev->stats();
  CHECK_EQ(s.open, 0u);
  CHECK_EQ(s.truncated_files, 1u);
  const std::string path = root + "/A1-big.pcapng";
  const Contents c = read_back(path);
  CHECK(c.valid);
  CHECK(file_size(path) <= 8192u);
  // Each packet block is 332 bytes (336 with the comment on the first): about 24 fit.
  CHECK(c.packets.size() >= 20u && c.packets.size() < 25u);
  CHECK_EQ(s.packets_written, c.packets.size());
  CHECK_EQ(s.bytes_written, file_size(path));
}

TEST(evidence_finish_mid_recording_leaves_a_valid_file) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root);
  for (uint32_t seq = 0; seq < 20; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  CHECK(!ev->trigger("A1", "mid", kT0 + kSec).empty());
  for (uint32_t seq = 20; seq < 25; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  CHECK_EQ(ev->stats().open, 1u);
  // flush(): the open recording reads as a valid capture up to here (pcapng needs no trailer).
  feed(*ev, 25, kT0 + 25 * kSec / 10);
  CHECK_EQ(read_back(root + "/A1.pcapng").packets.size(), 20u);  // the ring's, flushed at the trigger
  ev->flush();
  const Contents open = read_back(root + "/A1.pcapng");
  CHECK(open.valid);
  CHECK_EQ(open.packets.size(), 26u);
  ev->finish();
  CHECK_EQ(ev->stats().open, 0u);
  const Contents c = read_back(root + "/A1.pcapng");
  CHECK(c.valid);
  CHECK_EQ(c.packets.size(), 26u);  // 0.0 .. 2.5 s: all of the ring (the alert at 1 s, 2 s before it), then six
  CHECK_EQ(ev->stats().bytes_written, c.file_bytes);
  // A recording with no packet at all (the ring empty, finished at once) is a valid empty file.
  auto empty = recorder(root + "/e");
  CHECK(!empty->trigger("A1", "none", kT0).empty());
  empty->finish();
  const Contents e = read_back(root + "/e/A1.pcapng");
  CHECK(e.valid);
  CHECK_EQ(e.packets.size(), 0u);
}

// Live, a capture that went quiet: advance_idle(now) by the wall clock puts an open recording on
// disk while its window lasts and closes it once the window is over, freeing its slot.
TEST(evidence_idle_capture_ends_recordings_by_the_clock) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root);  // post_trigger 3 s
  for (uint32_t seq = 0; seq < 10; ++seq) feed(*ev, seq, kT0 + seq * kSec / 10);
  CHECK(!ev->trigger("A1", "idle", kT0 + kSec).empty());
  feed(*ev, 10, kT0 + kSec + kSec / 2);
  ev->advance_idle(kT0 + 3 * kSec);  // within the window: flushed, still open
  CHECK_EQ(ev->stats().open, 1u);
  CHECK_EQ(read_back(root + "/A1.pcapng").packets.size(), 11u);
  ev->advance_idle(kT0 + 4 * kSec + 1);  // past alert + post_trigger: closed
  CHECK_EQ(ev->stats().open, 0u);
  const Contents c = read_back(root + "/A1.pcapng");
  CHECK(c.valid);
  CHECK_EQ(c.packets.size(), 11u);
  feed(*ev, 11, kT0 + 5 * kSec);  // a later packet goes to no file
  CHECK_EQ(read_back(root + "/A1.pcapng").packets.size(), 11u);
}

// A file that cannot grow (RLIMIT_FSIZE: writes past 6000 bytes fail with EFBIG, as on a full
// disk): the recording ends, counted as a write error, its file valid with what was written
// before (the ring's packets, flushed at the trigger); recording goes on for the next alert.
TEST(evidence_write_failure_ends_the_recording_with_a_valid_file) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root);
  for (uint32_t seq = 0; seq < 10; ++seq) feed(*ev, seq, kT0 + seq, 200);
  std::string name;
  {
    const FileSizeLimit limit(6000);
    name = ev->trigger("A1", "full", kT0);
    for (uint32_t seq = 10; seq < 110; ++seq) feed(*ev, seq, kT0 + seq, 200);  // buffered: fails at finish
    ev->finish();
  }
  CHECK(!name.empty());
  EvidenceStats s = ev->stats();
  CHECK_EQ(s.write_errors, 1u);
  CHECK_EQ(s.open, 0u);
  const Contents c = read_back(root + "/A1.pcapng");
  CHECK(c.valid);
  CHECK_EQ(c.packets.size(), 10u);
  CHECK_EQ(s.bytes_written, c.file_bytes);
  CHECK(!ev->trigger("A2", "next", kT0 + 200).empty());
  ev->finish();
  CHECK(read_back(root + "/A2.pcapng").valid);
}

TEST(evidence_frame_bigger_than_the_ring_is_recorded_not_held) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.ring_bytes = 4096;
  });
  feed(*ev, 1, kT0, 9000);  // a jumbo frame: larger than the whole ring
  feed(*ev, 2, kT0 + 1, 100);
  EvidenceStats s = ev->stats();
  CHECK_EQ(s.ring_too_big, 1u);
  CHECK_EQ(s.ring_packets, 1u);
  CHECK(!ev->trigger("A1", "jumbo", kT0).empty());
  feed(*ev, 3, kT0 + 2, 9000);  // while recording: written to the file
  ev->finish();
  const Contents c = read_back(root + "/A1.pcapng");
  CHECK_EQ(c.packets.size(), 2u);
  if (c.packets.size() == 2) {
    CHECK_EQ(c.packets[0].seq, 2u);
    CHECK_EQ(c.packets[1].seq, 3u);
    CHECK(c.packets[1].intact);
  }
  s = ev->stats();
  CHECK_EQ(s.ring_too_big, 2u);
  // A frame of an interface never declared is ignored, counted.
  feed(*ev, 4, kT0 + 3, 100, 7);
  CHECK_EQ(ev->stats().undeclared, 1u);
}

TEST(evidence_memory_cap_counts_drops_and_the_window_it_covers) {
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.ring_bytes = 64 * 1024;
    o.pre_trigger_ns = 10 * kSec;
  });
  // 1000 packets of 1000 bytes in 1 s: about 63 fit the cap, the rest are pushed out young.
  for (uint32_t seq = 0; seq < 1000; ++seq) feed(*ev, seq, kT0 + seq * 1000000ull, 1000);
  const EvidenceStats s = ev->stats();
  PacketRecord one;
  one.caplen = 1000;
  const size_t each = PacketRing::stored_size(one);  // header, bytes, padding
  CHECK_EQ(s.ring_packets, 64u * 1024 / each);
  CHECK_EQ(s.ring_overwritten, 1000u - s.ring_packets);
  CHECK_EQ(s.ring_bytes, s.ring_packets * each);
  CHECK_EQ(s.ring_span_ns, (s.ring_packets - 1) * 1000000ull);
}

TEST(evidence_steady_state_allocates_nothing_per_packet) {
#ifdef PODSPAN_SANITIZED
  std::printf("  allocation count: skipped under the sanitizers (they own operator new)\n");
#else
  using alloc_count::counting;
  using alloc_count::news;
  TempDir tmp;
  const std::string& root = tmp.path;
  auto ev = recorder(root, [](EvidenceOptions& o) {
    o.ring_bytes = 256 * 1024;
    o.post_trigger_ns = 3600 * kSec;
  });
  uint32_t seq = 0;
  // Warm-up: the ring wraps several times, a recording opens and takes its commented packet.
  for (; seq < 2000; ++seq) feed(*ev, seq, kT0 + seq * 1000000ull, 200 + seq % 1200);
  CHECK(!ev->trigger("A1", "steady", kT0 + seq * 1000000ull).empty());
  for (; seq < 2100; ++seq) feed(*ev, seq, kT0 + seq * 1000000ull, 200 + seq % 1200);
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 64; ++i) frames.push_back(frame(i, 200 + i * 19));
  const uint64_t written = ev->stats().packets_written, overwritten = ev->stats().ring_overwritten;
  news = 0;
  counting = true;
  for (uint32_t i = 0; i < 20000; ++i, ++seq) {
    const auto& b = frames[i % frames.size()];
    PacketRecord r;
    r.ts_ns = kT0 + seq * 1000000ull;
    r.caplen = r.origlen = static_cast<uint32_t>(b.size());
    ev->record(r, b.data());
  }
  counting = false;
  const EvidenceStats s = ev->stats();
  CHECK_EQ(s.packets_written - written, 20000u);
  CHECK(s.ring_overwritten > overwritten);  // the cap was evicting throughout
  CHECK_EQ(news.load(), 0u);
  ev->finish();
  CHECK(read_back(root + "/A1.pcapng").valid);
#endif
}
