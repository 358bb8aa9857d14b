// libFuzzer target: a script of frames (random sizes, times that may go back, interfaces some of
// which were never declared), triggers (random alert times, names some of which are not file
// safe) and finish() calls, against an evidence recorder with small random caps. Afterwards every
// file it made must read back to its end with each frame intact and none past its recording's
// end, and match the counters; a PacketRing fed the same frames must hold the newest of them,
// intact, in order, within its window and its memory.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "detection/evidence.h"
#include "pcap/file_reader.h"
#include "stream_script.h"

using namespace podspan;
using podspan_fuzz::Script;

namespace {

constexpr uint64_t kMs = 1000000ull;

void fill(std::vector<uint8_t>& b, uint32_t seq, size_t len) {
  b.resize(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(seq * 13 + i);
  if (len >= 4) std::memcpy(b.data(), &seq, 4);
}

bool intact(const uint8_t* p, size_t len) {
  if (len < 4) return true;
  uint32_t seq;
  std::memcpy(&seq, p, 4);
  for (size_t i = 4; i < len; ++i) {
    if (p[i] != static_cast<uint8_t>(seq * 13 + i)) return false;
  }
  return true;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script in(data, size);
  // A directory of this run's own (the recorder makes "run" inside), removed at the end.
  char tmpl[] = "/tmp/podspan-fuzz-evidence-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 0;
  const std::string dir = std::string(tmpl) + "/run";
  EvidenceOptions o;
  o.dir = dir;
  o.ring_bytes = (size_t{in.byte()} + 1) * 64;
  o.pre_trigger_ns = in.byte() * 20 * kMs;
  o.post_trigger_ns = in.byte() * 20 * kMs;
  o.max_files = 1 + in.byte() % 6;
  o.max_open = 1 + in.byte() % 3;
  o.max_file_bytes = 256 + size_t{in.byte()} * 64;
  PacketRing ring(o.ring_bytes, o.pre_trigger_ns);
  std::deque<uint32_t> held;  // what the ring should hold: the newest frames it took
  uint64_t ring_taken = 0;
  std::map<std::string, uint64_t> files;  // file -> recording end
  {
    EvidenceRecorder ev(o);
    ev.add_interface(InterfaceInfo{"eth0", "", kLinktypeEthernet, 65535, {}});
    ev.add_interface(InterfaceInfo{"tun0", "", kLinktypeRaw, 65535, {}});
    uint64_t now = 1700000000ull * 1000 * kMs;
    uint32_t seq = 0, triggers = 0, interfaces = 2;
    std::vector<uint8_t> frame;
    while (in.more()) {
      const uint8_t op = in.byte() % 8;
      if (op <= 4) {
        const uint8_t dt = in.byte();
        now = dt & 0x80 ? now - (dt & 0x7f) * kMs : now + dt * kMs;  // up to 127 ms back
        const size_t len = (size_t{in.byte()} << 3) | (in.byte() & 7);
        PacketRecord r;
        r.ts_ns = now;
        r.caplen = r.origlen = static_cast<uint32_t>(len);
        r.iface = in.byte() % (interfaces + 1);  // the last: never declared
        fill(frame, ++seq, len);
        ev.record(r, frame.data());
        if (ring.push(r, frame.data())) {
          ++ring_taken;
          held.push_back(seq);
        }
        while (held.size() > ring.packets()) held.pop_front();
      } else if (op == 5) {
        const uint64_t alert = now - 2000 * kMs + in.byte() * 20 * kMs;
        const bool safe = in.byte() % 8 != 0;
        const std::string name = (safe ? "F" : "../F") + std::to_string(triggers++);
        const std::string got = ev.trigger(name, "fuzz alert " + name, alert);
        if (!got.empty()) {
          check(safe && got == "run/" + name + ".pcapng");
          files[dir + "/" + name + ".pcapng"] = alert + o.post_trigger_ns;
        }
      } else if (op == 6) {
        ev.finish();
      } else if (interfaces < 8) {  // an interface appearing mid-capture, recordings open
        ev.add_interface(InterfaceInfo{"if" + std::to_string(interfaces++), "", kLinktypeEthernet, 65535, {}});
      }
      check(ring.bytes_used() <= o.ring_bytes);
    }
    // The ring holds the newest frames it took, in order and intact, none older than its window.
    size_t k = 0;
    bool ok = held.size() == ring.packets();
    const uint64_t span = ring.span_ns();
    ring.for_each([&](const PacketRecord& r, const uint8_t* b) {
      uint32_t s = 0;
      if (r.caplen >= 4) std::memcpy(&s, b, 4);
      ok = ok && k < held.size() && (r.caplen < 4 || s == held[k]) && intact(b, r.caplen);
      ++k;
      return ok;
    });
    check(ok && span <= o.pre_trigger_ns);
    check(ring.packets() + ring.overwritten() <= ring_taken);
    ev.finish();
    const EvidenceStats s = ev.stats();
    check(s.files == files.size() && s.files <= o.max_files && s.open == 0);
    check(s.files + s.refused + s.failed == triggers);
    check(s.ring_bytes <= o.ring_bytes);
    // Every file: valid to its end, frames intact, none past its recording's end, under the cap.
    uint64_t packets = 0, bytes = 0;
    for (const auto& [path, end] : files) {
      auto rd = FileReader::open(path);
      Batch b;
      ReadStatus st;
      do {
        st = rd->read(b, 1000, 1 << 20);
        for (const PacketRecord& r : b.records) check(r.ts_ns <= end && intact(b.bytes(r), r.caplen));
        packets += b.size();
      } while (st == ReadStatus::kOk);
      check(st == ReadStatus::kEnd);
      check(rd->contents_size() <= o.max_file_bytes);
      bytes += rd->contents_size();
      ::unlink(path.c_str());
    }
    check(packets == s.packets_written && bytes == s.bytes_written);
  }
  ::rmdir(dir.c_str());
  ::rmdir(tmpl);
  return 0;
}
