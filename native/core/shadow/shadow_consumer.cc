#include "shadow/shadow_consumer.h"

namespace podspan {

ShadowConsumer::ShadowConsumer(ShadowConsumerOptions options)
    : queue_(options.queue), extractor_(std::move(options.extractor), queue_), pipeline_(options.reassembly, options.defrag, *this) {
  pipeline_.set_segment_observer(this);
}

void ShadowConsumer::on_open(const StreamInfo& s) {
  if (s.slot >= oriented_.size()) oriented_.resize(std::max<size_t>(s.slot + 1, oriented_.size() * 2));
  oriented_[s.slot] = 0;
  extractor_.on_open(s);
}

void ShadowConsumer::on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) {
  if (s.slot >= oriented_.size() || oriented_[s.slot]) return;
  oriented_[s.slot] = 1;
  // A SYN's sender or a SYN/ACK's receiver is the client.
  const uint8_t sa = d.tcp_flags & (kSyn | kAck);
  const int syn_from = sa == kSyn ? dir : sa == (kSyn | kAck) ? 1 - dir : -1;
  extractor_.on_first_segment(s, syn_from);
}

void ShadowConsumer::consume(const PacketRecord& rec, const uint8_t* bytes) {
  pipeline_.add(rec, bytes);
  // The clock is read every 64 packets; counters are published every 4096.
  if ((++packets_ & 63) == 0) queue_.maybe_push(false);
  if ((packets_ & 4095) == 0) publish();
}

void ShadowConsumer::dispatched() {
  queue_.maybe_push(false);
  publish();
}

void ShadowConsumer::finish() {
  pipeline_.finish();  // closes every stream: their last exchanges and close lines go out
  queue_.maybe_push(true);
  publish();
}

void ShadowConsumer::publish() {
  const TcpPipelineStats p = pipeline_.stats();
  std::lock_guard<std::mutex> lk(mu_);
  pipeline_snapshot_ = p;
  extractor_snapshot_ = extractor_.stats();
}

ShadowStats ShadowConsumer::stats() const {
  ShadowStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.pipeline = pipeline_snapshot_;
    s.extractor = extractor_snapshot_;
  }
  s.queue = queue_.stats();
  return s;
}

}  // namespace podspan
