// libFuzzer target: any bytes as a capture file through the whole stream pipeline (decode,
// defragmentation, tunnels, reassembly with small caps), twice: once frame by frame and once as a
// stable input with lookahead, some frames then coming from outside it. Both must give the same
// events in the same order, each direction's offsets continuous. Input: a pcap or pcapng
// file, so the corpus captures are its seeds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "common/errors.h"
#include "pcap/file_reader.h"
#include "reassembly/tcp_pipeline.h"

namespace {

struct Transcript : podspan::StreamSink {
  std::vector<uint64_t> events;  // a few words per event
  std::map<std::pair<uint64_t, int>, uint64_t> next;
  void on_open(const podspan::StreamInfo& s) override { events.insert(events.end(), {1, s.id, s.first_ts}); }
  void on_data(const podspan::StreamInfo& s, int dir, uint64_t off, const uint8_t* d, uint32_t n, uint64_t ts) override {
    advance(s.id, dir, off, n);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) sum = sum * 131 + d[i];
    events.insert(events.end(), {2, s.id, static_cast<uint64_t>(dir), off, n, ts, sum});
  }
  void on_gap(const podspan::StreamInfo& s, int dir, uint64_t off, uint64_t n) override {
    advance(s.id, dir, off, n);
    events.insert(events.end(), {3, s.id, static_cast<uint64_t>(dir), off, n});
  }
  void on_close(const podspan::StreamInfo& s, podspan::CloseReason r, uint64_t ts) override {
    events.insert(events.end(), {4, s.id, static_cast<uint64_t>(r), ts});
  }
  void advance(uint64_t id, int dir, uint64_t off, uint64_t n) {
    uint64_t& at = next[{id, dir}];
    if (off != at || n == 0) __builtin_trap();
    at += n;
  }
};

struct Frame {
  size_t at;
  uint32_t len;
  uint64_t ts;
  uint32_t iface;
};

std::vector<uint64_t> run(const std::vector<uint8_t>& buf, const std::vector<Frame>& frames,
                          const std::vector<uint16_t>& linktypes, bool stable) {
  using namespace podspan;
  Transcript t;
  ReassemblyConfig rc;
  rc.max_flows = 4;
  rc.max_buffer_per_flow = 2048;
  rc.max_buffer_total = 4096;
  rc.idle_timeout_ns = 3000;
  DefragConfig dc;
  dc.max_bytes = 8192;
  dc.max_datagrams = 4;
  dc.max_fragments = 8;
  dc.timeout_ns = 2000;
  {
    TcpPipeline p(rc, dc, t);
    for (uint16_t l : linktypes) p.add_interface(l);
    if (stable) p.input_is_stable(buf.data(), buf.size());
    std::vector<uint8_t> copy;
    for (size_t i = 0; i < frames.size(); ++i) {
      PacketRecord rec{};
      rec.ts_ns = frames[i].ts;
      rec.iface = frames[i].iface;
      rec.caplen = rec.origlen = frames[i].len;
      const uint8_t* bytes = buf.data() + frames[i].at;
      if (stable && i % 7 == 3) {  // a frame from elsewhere: the held ones go first
        copy.assign(bytes, bytes + frames[i].len);
        bytes = copy.data();
      }
      p.add(rec, bytes);
    }
    p.finish();
  }
  return t.events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  std::unique_ptr<FileReader> reader;
  try {
    reader = FileReader::from_memory(data, size, "fuzz.pcap");
  } catch (const CaptureError&) {
    return 0;
  }
  // Every packet copied into one buffer that then stays put, as a mapped file does.
  std::vector<uint8_t> buf;
  std::vector<Frame> frames;
  Batch batch;
  for (size_t rounds = 0; rounds <= size + 1 && frames.size() < 4096; ++rounds) {
    if (reader->read(batch, 64, 1 << 20) != ReadStatus::kOk) break;
    for (const PacketRecord& rec : batch.records) {
      const uint8_t* b = batch.bytes(rec);
      frames.push_back({buf.size(), rec.caplen, rec.ts_ns, rec.iface});
      buf.insert(buf.end(), b, b + rec.caplen);
    }
  }
  std::vector<uint16_t> linktypes;
  for (const InterfaceInfo& i : reader->interfaces()) linktypes.push_back(i.linktype);
  if (run(buf, frames, linktypes, false) != run(buf, frames, linktypes, true)) __builtin_trap();
  return 0;
}
