// The native core alone on a capture file: read (mmap) + decode + IP defragmentation + TCP
// reassembly, with a sink that only counts bytes. Prints one line in the same words as
// gopacket-reassembly (../shared/anchors), so bench/reassembly-vs-gopacket.sh can set them side by side.
//   podspan_reassembly_bench FILE
// With --flows N it measures memory instead: N idle flows (SYN + 10 bytes each), RSS per flow.
//   podspan_reassembly_bench --flows 1000000
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "decode.h"
#include "defrag.h"
#include "errors.h"
#include "file_reader.h"
#include "reassembly.h"

using namespace podspan;

namespace {
struct CountingSink : StreamSink {
  uint64_t bytes = 0;
  void on_open(const StreamInfo&) override {}
  void on_data(uint64_t, int, uint64_t, const uint8_t*, uint32_t n, uint64_t) override { bytes += n; }
  void on_gap(uint64_t, int, uint64_t, uint64_t) override {}
  void on_close(uint64_t, CloseReason, uint64_t) override {}
};
}  // namespace

long rss_kb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4;
}

int idle_flows(long n) {
  CountingSink sink;
  ReassemblyConfig cfg;
  cfg.max_flows = static_cast<size_t>(n) + 1;
  TcpReassembler r(cfg, sink);
  const uint8_t payload[10] = {0};
  const long before = rss_kb();
  for (long i = 0; i < n; ++i) {
    Decoded d;
    d.ip_version = 4;
    d.protocol = 6;
    d.src[0] = 10; d.src[1] = static_cast<uint8_t>(i >> 16); d.src[2] = static_cast<uint8_t>(i >> 8); d.src[3] = static_cast<uint8_t>(i);
    d.dst[0] = 192; d.dst[3] = 1;
    d.sport = static_cast<uint16_t>(1024 + (i & 0x3fff));
    d.dport = 80;
    d.seq = 1000;
    d.tcp_flags = kSyn;
    r.add(d, payload, 1);
    d.seq = 1001;
    d.tcp_flags = kAck;
    d.payload_len = d.captured_payload = 10;
    r.add(d, payload, 2);
  }
  const long after = rss_kb();
  std::printf("flows=%ld rss_before_kb=%ld rss_after_kb=%ld bytes_per_flow=%.0f\n", n, before, after,
              (after - before) * 1024.0 / static_cast<double>(n));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--flows") return idle_flows(std::atol(argv[2]));
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.pcap|FILE.pcapng\n", argv[0]);
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    auto reader = FileReader::open(argv[1]);
    CountingSink sink;
    TcpReassembler reassembler({}, sink);
    Defragmenter defrag;
    std::vector<uint8_t> datagram;
    Batch batch;
    uint64_t packets = 0, tcp = 0;
    uint64_t last_ts = 0;
    for (;;) {
      const ReadStatus st = reader->read(batch, 4096, 8 << 20);
      const auto& ifs = reader->interfaces();
      for (const PacketRecord& r : batch.records) {
        ++packets;
        const uint8_t* p = batch.data.data() + r.offset;
        Decoded d;
        DecodeResult res = decode_frame(p, r.caplen, ifs[r.iface].linktype, d);
        if (res == DecodeResult::kOk && d.fragment) {
          if (!defrag.add(d, p, r.caplen, r.ts_ns, datagram)) continue;
          res = decode_frame(datagram.data(), static_cast<uint32_t>(datagram.size()), kLinktypeRaw, d);
          p = datagram.data();
        }
        if ((res == DecodeResult::kOk || res == DecodeResult::kTruncated) && d.protocol == 6 && d.payload_offset) {
          ++tcp;
          reassembler.add(d, p, r.ts_ns);
        }
        last_ts = r.ts_ns;
      }
      if (st == ReadStatus::kError) {
        std::fprintf(stderr, "%s\n", reader->error().c_str());
        return 1;
      }
      if (st == ReadStatus::kEnd) break;
    }
    reassembler.finish(last_ts);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("packets=%llu tcp=%llu payload_bytes=%llu streams=%llu seconds=%.3f pkts_per_s=%.0f gbit_per_s=%.2f max_rss_kb=%ld\n",
                static_cast<unsigned long long>(packets), static_cast<unsigned long long>(tcp),
                static_cast<unsigned long long>(sink.bytes), static_cast<unsigned long long>(reassembler.stats().streams), secs,
                packets / secs, sink.bytes * 8 / secs / 1e9, ru.ru_maxrss);
  } catch (const CaptureError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
