// libFuzzer target: any capture (pcap or pcapng, so the corpus captures are its seeds) through
// the Analyzer with small flow and buffer caps: every stream opened gets exactly one flow record
// (uids unique), no counter exceeds the packets counted, the packets counted never exceed the
// frames fed, and each record's JSON line is one line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "analysis/analyzer.h"
#include "analysis/json_records.h"
#include "common/errors.h"
#include "pcap/file_reader.h"

namespace {

struct Checked : podspan::RecordSink {
  std::set<uint64_t> uids;
  uint64_t packets = 0;
  std::string line;
  void flow(const podspan::FlowRecord& r) override {
    if (!uids.insert(r.uid).second) __builtin_trap();
    const uint64_t n = r.client_packets + r.server_packets;
    if (n == 0) __builtin_trap();  // a flow opens on a segment, which is counted
    if (r.retransmitted_packets + r.out_of_order_packets > n || r.zero_window_events > n) __builtin_trap();
    if (r.handshake_rtt != podspan::kUnknownNs &&
        (r.server_rtt == podspan::kUnknownNs || r.client_rtt == podspan::kUnknownNs ||
         r.server_rtt + r.client_rtt != r.handshake_rtt))
      __builtin_trap();
    packets += n;
    line.clear();
    podspan::append_json(line, r);
    if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) __builtin_trap();
  }
  void http(const podspan::HttpRecord&) override {}
  void dns(const podspan::DnsRecord&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  std::unique_ptr<FileReader> reader;
  try {
    reader = FileReader::from_memory(data, size, "fuzz.pcap");
  } catch (const CaptureError&) {
    return 0;
  }
  AnalyzerOptions o;
  o.reassembly.max_flows = 4;
  o.reassembly.max_buffer_per_flow = 2048;
  o.reassembly.max_buffer_total = 4096;
  o.reassembly.idle_timeout_ns = 3000;
  o.defrag.max_bytes = 8192;
  o.defrag.max_datagrams = 4;
  o.defrag.timeout_ns = 2000;
  Checked sink;
  Analyzer an(o, sink, nullptr);
  Batch batch;
  size_t known = 0;
  uint64_t frames = 0;
  for (size_t rounds = 0; rounds <= size + 1 && frames < 4096; ++rounds) {
    const ReadStatus st = reader->read(batch, 64, 1 << 20);
    for (; known < reader->interfaces().size(); ++known) an.add_interface(reader->interfaces()[known]);
    for (const PacketRecord& rec : batch.records) {
      an.consume(rec, batch.bytes(rec));
      ++frames;
    }
    if (st != ReadStatus::kOk) break;
  }
  an.finish();
  const AnalyzerStats s = an.stats();
  if (sink.uids.size() != s.reassembly.streams) __builtin_trap();  // one record per stream
  if (sink.packets > frames) __builtin_trap();  // each frame is at most one segment
  return 0;
}
