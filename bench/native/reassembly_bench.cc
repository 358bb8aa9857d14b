// The native core alone on a capture file: read (mmap) + decode + IP defragmentation + TCP
// reassembly, with a sink that only counts bytes. Prints one line in the same words as
// gopacket-reassembly (../shared/anchors), so bench/reassembly-vs-gopacket.sh can set them side by side.
//   podspan_reassembly_bench FILE
// With --flows N it measures memory instead: N idle flows (SYN + 10 bytes each), RSS per flow.
//   podspan_reassembly_bench --flows 1000000
// With --flood N SEGMENTS: an out-of-order flood (N flows, each missing its first byte, then
// SEGMENTS 1000-byte segments that can never be delivered) and a duplicate flood (one early
// segment sent SEGMENTS*N times); time per segment, peak buffered bytes against the caps, RSS.
// BYTES (default 1000) sets the flood's segment size: 1 shows what bookkeeping costs.
//   podspan_reassembly_bench --flood 2000 1000 [BYTES]
// With --analyze FILE: the same read with analytics instead of a counting sink (the Analyzer:
// reassembly, the connection tracker and the HTTP/HTTP2/DNS analyser, records queued and
// formatted as JSON lines and rows, the formatting's CPU printed apart), so the two runs side by
// side show what analytics adds per packet.
//   podspan_reassembly_bench --analyze FILE
// With --detect FILE: --analyze with the Detector too (default rules), so the two side by side
// show what detection adds per packet.
//   podspan_reassembly_bench --detect FILE
// With --shadow FILE: `podspan shadow -r`'s native half (reassembly plus the shadow extractor:
// every GET exchange with its headers and bodies as a row and data, batches taken off the
// queue as JavaScript would), without JavaScript or sending: bench/shadow-vs-goreplay.sh's core.
//   podspan_reassembly_bench --shadow FILE
// With --llhttp FILE: reassembly with each stream's bytes handed to llhttp alone (a request parser
// for the side that opened the stream, a response parser for the other; no callbacks but the
// message count, no records): the floor under what --analyze can cost on HTTP/1 traffic.
//   podspan_reassembly_bench --llhttp FILE
#include <llhttp.h>
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.h"
#include "pcap/file_reader.h"
#include "reassembly/reassembly.h"
#include "reassembly/tcp_pipeline.h"
#include "analysis/analyzer.h"
#include "analysis/app_analyzer.h"
#include "detection/detecting_sink.h"
#include "detection/detector.h"
#include "analysis/record_queue.h"
#include "shadow/shadow_consumer.h"

using namespace podspan;

namespace {
// The records as the queue to JavaScript takes them: kept in compact form on the producing
// (capture) thread, formatted as JSON lines and rows when taken (after every read batch, on the
// same thread here; the CPU that takes is timed apart, so the capture thread's share is known).
struct QueuedRecords {
  RecordQueue queue{options()};
  RecordBatch taken;
  uint64_t flows = 0, http_records = 0, dns_records = 0, alerts = 0, json_bytes = 0;
  double format_cpu_s = 0;
  static RecordQueueOptions options() {
    RecordQueueOptions o;
    o.queue_max_batches = size_t{1} << 20;  // drained after every read batch: never full
    return o;
  }
  void drain() {
    const double t0 = thread_cpu_s();
    while (queue.take(taken)) {
      flows += taken.flow_count;
      http_records += taken.http_count;
      dns_records += taken.dns_count;
      alerts += taken.alert_count;
      json_bytes += taken.flows.size() + taken.http.size() + taken.dns.size() + taken.alerts.size();
    }
    format_cpu_s += thread_cpu_s() - t0;
  }
  static double thread_cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
};

struct CountingSink : StreamSink {
  uint64_t bytes = 0;
  void on_open(const StreamInfo&) override {}
  void on_data(const StreamInfo&, int, uint64_t, const uint8_t*, uint32_t n, uint64_t) override { bytes += n; }
  void on_gap(const StreamInfo&, int, uint64_t, uint64_t) override {}
  void on_close(const StreamInfo&, CloseReason, uint64_t) override {}
};
// Two llhttp parsers per open stream, kept by the stream's slot (reset when the slot is reused).
struct LlhttpSink : StreamSink {
  struct Pair {
    uint64_t stream = ~0ULL;
    llhttp_t parser[2];
    bool failed[2] = {false, false};
  };
  llhttp_settings_t settings;
  std::vector<Pair> pairs;
  uint64_t bytes = 0, messages = 0, failed_streams = 0;

  LlhttpSink() {
    llhttp_settings_init(&settings);
    settings.on_message_complete = [](llhttp_t* p) {
      ++static_cast<LlhttpSink*>(p->data)->messages;
      return 0;
    };
  }
  void on_open(const StreamInfo& info) override {
    if (info.slot >= pairs.size()) pairs.resize(info.slot + 1);
    Pair& pair = pairs[info.slot];
    pair.stream = info.id;
    for (int dir = 0; dir < 2; ++dir) {
      llhttp_init(&pair.parser[dir], dir == 0 ? HTTP_REQUEST : HTTP_RESPONSE, &settings);
      pair.parser[dir].data = this;
      pair.failed[dir] = false;
    }
  }
  void on_data(const StreamInfo& info, int dir, uint64_t, const uint8_t* data, uint32_t n, uint64_t) override {
    bytes += n;
    Pair& pair = pairs[info.slot];
    if (pair.failed[dir]) return;
    if (llhttp_execute(&pair.parser[dir], reinterpret_cast<const char*>(data), n) != HPE_OK) {
      pair.failed[dir] = true;
      ++failed_streams;
    }
  }
  void on_gap(const StreamInfo& info, int dir, uint64_t, uint64_t) override { pairs[info.slot].failed[dir] = true; }
  void on_close(const StreamInfo&, CloseReason, uint64_t) override {}
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

Decoded flood_segment(long flow, uint32_t seq, uint8_t flags, uint32_t len) {
  Decoded d;
  d.ip_version = 4;
  d.protocol = 6;
  d.src[0] = 10; d.src[1] = static_cast<uint8_t>(flow >> 16); d.src[2] = static_cast<uint8_t>(flow >> 8); d.src[3] = static_cast<uint8_t>(flow);
  d.dst[0] = 192; d.dst[3] = 1;
  d.sport = 4000;
  d.dport = 80;
  d.seq = seq;
  d.tcp_flags = flags;
  d.payload_len = d.captured_payload = len;
  return d;
}

void flood_report(const char* what, const TcpReassembler& r, const ReassemblyConfig& cfg, uint64_t segments,
                  std::chrono::steady_clock::time_point t0, long rss_before) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ReassemblyStats& s = r.stats();
  std::printf("%s segments=%llu seconds=%.3f ns_per_segment=%.0f peak_buffered_mib=%.1f peak_memory_mib=%.1f cap_mib=%zu buffered_now_mib=%.1f "
              "gaps=%llu gap_mib=%.1f overlap_mib=%.1f rss_growth_mib=%.1f\n",
              what, static_cast<unsigned long long>(segments), secs, secs * 1e9 / static_cast<double>(segments),
              s.peak_buffered_bytes / 1048576.0, s.peak_buffered_memory / 1048576.0, cfg.max_buffer_total >> 20, s.buffered_bytes / 1048576.0,
              static_cast<unsigned long long>(s.gaps), s.gap_bytes / 1048576.0, s.overlap_bytes / 1048576.0,
              (rss_kb() - rss_before) / 1024.0);
}

int flood(long flows, long segments, uint32_t bytes) {
  static uint8_t payload[1000];
  CountingSink sink;
  ReassemblyConfig cfg;
  cfg.max_flows = static_cast<size_t>(flows) + 1;
  {
    TcpReassembler r(cfg, sink);
    const long before = rss_kb();
    const auto t0 = std::chrono::steady_clock::now();
    for (long f = 0; f < flows; ++f) r.add(flood_segment(f, 0, kSyn, 0), payload, 1);
    // Round robin across flows, so every flow holds data at once and the global cap is what bites.
    for (long i = 0; i < segments; ++i)
      for (long f = 0; f < flows; ++f) r.add(flood_segment(f, 2 + static_cast<uint32_t>(i) * 1000, kAck, bytes), payload, 2);
    flood_report("out-of-order", r, cfg, static_cast<uint64_t>(flows) * static_cast<uint64_t>(segments + 1), t0, before);
  }
  {
    TcpReassembler r(cfg, sink);
    const long before = rss_kb();
    const auto t0 = std::chrono::steady_clock::now();
    r.add(flood_segment(0, 0, kSyn, 0), payload, 1);
    const uint64_t copies = static_cast<uint64_t>(flows) * static_cast<uint64_t>(segments);
    for (uint64_t i = 0; i < copies; ++i) r.add(flood_segment(0, 5000, kAck, bytes), payload, 2);
    flood_report("duplicate", r, cfg, copies, t0, before);
  }
  return 0;
}

// The whole file into a consumer, packets lent from the mapping as a file session does;
// after_batch() runs after each batch. False (message printed) on a read error.
template <class AfterBatch>
bool feed_file(FileReader& reader, PacketConsumer& consumer, AfterBatch after_batch) {
  consumer.input_is_stable(reader.contents(), reader.contents_size());
  Batch batch;
  batch.may_borrow = true;
  size_t known_interfaces = 0;
  for (;;) {
    const ReadStatus st = reader.read(batch, 4096, 8 << 20);
    const auto& ifs = reader.interfaces();
    for (; known_interfaces < ifs.size(); ++known_interfaces) consumer.add_interface(ifs[known_interfaces]);
    for (const PacketRecord& r : batch.records) consumer.consume(r, batch.bytes(r));
    consumer.dispatched();
    after_batch();
    if (st == ReadStatus::kError) {
      std::fprintf(stderr, "%s\n", reader.error().c_str());
      return false;
    }
    if (st == ReadStatus::kEnd) break;
  }
  consumer.finish();
  return true;
}

// --analyze: the Analyzer with the application analyser (HTTP, HTTP/2, DNS) over the whole file,
// every record queued and formatted as its JSON line and row: what `podspan analyze` costs before
// JavaScript. format_cpu_s: the part spent formatting taken batches (the consumer's thread in
// `podspan analyze`); the rest is what the capture thread does.
int analyze_file(FileReader& reader, std::chrono::steady_clock::time_point t0, bool detect) {
  QueuedRecords records;
  RecordSink& queue = records.queue;
  std::unique_ptr<Detector> detector;  // only with --detect: its tables cost memory
  std::unique_ptr<DetectingSink> detecting;
  if (detect) {
    detector = std::make_unique<Detector>(DetectConfig{}, queue);
    detecting = std::make_unique<DetectingSink>(queue, *detector, true);
  }
  RecordSink& sink = detect ? static_cast<RecordSink&>(*detecting) : queue;
  AppEventsFor<AppAnalyzer> app(std::make_unique<AppAnalyzer>(sink));
  Analyzer analyzer(AnalyzerOptions{}, sink, &app);
  if (detect) analyzer.set_detector(detector.get());
  if (!feed_file(reader, analyzer, [&] {
        records.queue.maybe_push(false);
        records.drain();
      }))
    return 1;
  records.queue.maybe_push(true);
  records.drain();
  const AnalyzerStats stats = analyzer.stats();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s packets=%llu tcp=%llu flow_records=%llu http_records=%llu dns_records=%llu alerts=%llu json_bytes=%llu seconds=%.3f format_cpu_s=%.3f pkts_per_s=%.0f max_rss_kb=%ld\n",
              detect ? "detect" : "analyze", static_cast<unsigned long long>(stats.packets), static_cast<unsigned long long>(stats.tcp_packets),
              static_cast<unsigned long long>(records.flows), static_cast<unsigned long long>(records.http_records),
              static_cast<unsigned long long>(records.dns_records), static_cast<unsigned long long>(records.alerts),
              static_cast<unsigned long long>(records.json_bytes), secs, records.format_cpu_s,
              stats.packets / secs, ru.ru_maxrss);
  return 0;
}

// --shadow: the ShadowConsumer as `podspan shadow -r` sets it up (GET, HEAD, OPTIONS; bodies up to
// 1 MiB), its batches taken after every read batch so the queue never fills.
int shadow_file(FileReader& reader, std::chrono::steady_clock::time_point t0) {
  ShadowConsumerOptions options;
  options.extractor.methods = {"GET", "HEAD", "OPTIONS"};
  ShadowConsumer shadow(options);
  ExchangeBatch taken;
  uint64_t batches = 0, meta_bytes = 0, data_bytes = 0;
  const auto drain = [&] {
    while (shadow.take(taken)) {
      ++batches;
      meta_bytes += taken.meta.size();
      data_bytes += taken.data.size();
    }
  };
  if (!feed_file(reader, shadow, drain)) return 1;
  drain();
  const ShadowStats stats = shadow.stats();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("shadow packets=%llu connections=%llu exchanges=%llu dropped_exchanges=%llu batches=%llu meta_bytes=%llu data_bytes=%llu seconds=%.3f exchanges_per_s=%.0f max_rss_kb=%ld\n",
              static_cast<unsigned long long>(stats.pipeline.packets), static_cast<unsigned long long>(stats.extractor.connections),
              static_cast<unsigned long long>(stats.extractor.exchanges), static_cast<unsigned long long>(stats.queue.dropped_exchanges),
              static_cast<unsigned long long>(batches), static_cast<unsigned long long>(meta_bytes),
              static_cast<unsigned long long>(data_bytes), secs, stats.extractor.exchanges / secs, ru.ru_maxrss);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--flows") return idle_flows(std::atol(argv[2]));
  if ((argc == 4 || argc == 5) && std::string(argv[1]) == "--flood") {
    const long bytes = argc == 5 ? std::atol(argv[4]) : 1000;
    if (bytes < 1 || bytes > 1000) {
      std::fprintf(stderr, "--flood: BYTES must be 1..1000\n");
      return 2;
    }
    return flood(std::atol(argv[2]), std::atol(argv[3]), static_cast<uint32_t>(bytes));
  }
  const bool detect = argc == 3 && std::string(argv[1]) == "--detect";
  const bool analyze = detect || (argc == 3 && std::string(argv[1]) == "--analyze");
  const bool shadow = argc == 3 && std::string(argv[1]) == "--shadow";
  const bool llhttp = argc == 3 && std::string(argv[1]) == "--llhttp";
  if (argc != 2 && !analyze && !shadow && !llhttp) {
    std::fprintf(stderr, "usage: %s [--analyze|--detect|--shadow|--llhttp] FILE.pcap|FILE.pcapng\n", argv[0]);
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    auto reader = FileReader::open(argv[argc - 1]);
    if (analyze) return analyze_file(*reader, t0, detect);
    if (shadow) return shadow_file(*reader, t0);
    CountingSink counting;
    LlhttpSink parsing;
    StreamSink& sink = llhttp ? static_cast<StreamSink&>(parsing) : counting;
    TcpPipeline pipeline({}, {}, sink);
    // As `podspan streams` reads a file: packets lent from the mapping, which stays until the end.
    pipeline.input_is_stable(reader->contents(), reader->contents_size());
    Batch batch;
    batch.may_borrow = true;
    size_t known_interfaces = 0;
    for (;;) {
      const ReadStatus st = reader->read(batch, 4096, 8 << 20);
      const auto& ifs = reader->interfaces();
      for (; known_interfaces < ifs.size(); ++known_interfaces) pipeline.add_interface(ifs[known_interfaces].linktype);
      for (const PacketRecord& r : batch.records) pipeline.add(r, batch.bytes(r));
      if (st == ReadStatus::kError) {
        std::fprintf(stderr, "%s\n", reader->error().c_str());
        return 1;
      }
      if (st == ReadStatus::kEnd) break;
    }
    pipeline.finish();
    const TcpPipelineStats stats = pipeline.stats();
    const uint64_t packets = stats.packets, tcp = stats.tcp_packets;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const uint64_t bytes = llhttp ? parsing.bytes : counting.bytes;
    std::printf("packets=%llu tcp=%llu payload_bytes=%llu streams=%llu seconds=%.3f pkts_per_s=%.0f gbit_per_s=%.2f max_rss_kb=%ld\n",
                static_cast<unsigned long long>(packets), static_cast<unsigned long long>(tcp),
                static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(stats.reassembly.streams), secs,
                packets / secs, bytes * 8 / secs / 1e9, ru.ru_maxrss);
    if (llhttp)
      std::printf("llhttp messages=%llu stream_directions_not_http=%llu\n", static_cast<unsigned long long>(parsing.messages),
                  static_cast<unsigned long long>(parsing.failed_streams));
  } catch (const CaptureError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
