// A capture session's shadow testing: decode, defragment and reassemble (TcpPipeline) on the
// capture thread, extract exchanges (ShadowExtractor) into an ExchangeQueue that JavaScript
// drains (native/addon/shadow.cc).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/packet.h"
#include "decode/defrag.h"
#include "reassembly/reassembly.h"
#include "reassembly/tcp_pipeline.h"
#include "shadow/exchange_queue.h"
#include "shadow/extractor.h"

namespace podspan {

struct ShadowConsumerOptions {
  ReassemblyConfig reassembly;
  DefragConfig defrag;
  ShadowOptions extractor;
  ExchangeQueueOptions queue;
};

struct ShadowStats {
  TcpPipelineStats pipeline;
  ShadowExtractorStats extractor;
  ExchangeQueueStats queue;
};

class ShadowConsumer : public PacketConsumer, private StreamSink, private SegmentObserver {
 public:
  explicit ShadowConsumer(ShadowConsumerOptions options);

  void set_on_ready(std::function<void()> on_ready) { queue_.set_on_ready(std::move(on_ready)); }
  void add_interface(const InterfaceInfo& info) override { pipeline_.add_interface(info.linktype); }
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  void dispatched() override;
  void input_is_stable(const uint8_t* begin, size_t len) override { pipeline_.input_is_stable(begin, len); }
  void finish() override;

  bool take(ExchangeBatch& out) { return queue_.take(out); }
  void abandon() { queue_.abandon(); }
  ShadowStats stats() const;  // any thread (pipeline and extractor as of the last publish)

 private:
  void on_open(const StreamInfo& s) override;
  void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) override {
    extractor_.on_data(s, dir, offset, data, len, ts);
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) override { extractor_.on_gap(s, dir, offset, len); }
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) override { extractor_.on_close(s, reason, ts); }
  void on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) override;
  void publish();

  ExchangeQueue queue_;
  ShadowExtractor extractor_;
  TcpPipeline pipeline_;
  std::vector<uint8_t> oriented_;  // by slot: the stream's first segment was seen
  uint64_t packets_ = 0;
  mutable std::mutex mu_;
  TcpPipelineStats pipeline_snapshot_;
  ShadowExtractorStats extractor_snapshot_;
};

}  // namespace podspan
