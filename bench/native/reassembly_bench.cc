// The native core alone on a capture file: read (mmap) + decode + IP defragmentation + TCP
// reassembly, with a sink that only counts bytes. Prints one line in the same words as
// gopacket-reassembly (../shared/anchors), so bench/reassembly-vs-gopacket.sh can set them side by side.
//   podspan_reassembly_bench FILE
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

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

int main(int argc, char** argv) {
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
