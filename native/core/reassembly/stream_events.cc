#include "reassembly/stream_events.h"

#include <chrono>
#include <cstring>

namespace podspan {
namespace {

// tcpflow's console text: printable ASCII, CR and LF as they are, any other byte '.'.
struct TextTable {
  uint8_t shown[256];
  TextTable() {
    for (int b = 0; b < 256; ++b) shown[b] = (b >= 0x20 && b <= 0x7e) || b == '\n' || b == '\r' ? static_cast<uint8_t>(b) : '.';
  }
};
const TextTable kText;

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

StreamEventQueue::StreamEventQueue(StreamEventOptions options)
    : opt_(options), pipeline_(opt_.reassembly, opt_.defrag, *this) {
  current_.events.reserve(opt_.batch_max_events);
  current_.data.reserve(opt_.batch_max_bytes);
}

void StreamEventQueue::consume(const PacketRecord& rec, const uint8_t* bytes) {
  ts_ = rec.ts_ns;
  pipeline_.add(rec, bytes);
  ++packets_;
  const bool full = current_.data.size() >= opt_.batch_max_bytes || current_.events.size() >= opt_.batch_max_events;
  // The clock is read every 64 packets, and a queue found full is retried as often.
  if (full || (packets_ & 63) == 0) maybe_push(false);
  if ((packets_ & 4095) == 0) publish_stats();
}

void StreamEventQueue::maybe_push(bool force) {
  if (current_.events.empty()) return;
  const uint64_t now = now_ms();
  const bool full = current_.data.size() >= opt_.batch_max_bytes || current_.events.size() >= opt_.batch_max_events;
  if (!force && !full && now - current_started_ms_ < opt_.flush_ms) return;
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (abandoned_) {
      current_.clear();
      return;
    }
    if (ready_.size() >= opt_.queue_max_batches && !force) {
      if (!opt_.wait_for_room) {
        overflow_ = true;  // keep the batch; payload turns into gaps until JS catches up
        return;
      }
      room_.wait(lk, [this] { return abandoned_ || ready_.size() < opt_.queue_max_batches; });
      if (abandoned_) {
        current_.clear();
        return;
      }
    }
    ++counters_.batches;
    counters_.events += current_.events.size();
    ready_.push_back(std::move(current_));
    if (!spare_.empty()) {
      current_ = std::move(spare_.back());
      spare_.pop_back();
    } else {
      current_ = StreamEventBatch();
    }
    current_.clear();
    overflow_ = false;
  }
  current_started_ms_ = now;
  if (on_ready_) on_ready_();
}

void StreamEventQueue::finish() {
  pipeline_.finish();
  maybe_push(true);  // the last batch may exceed the queue cap by one: nothing is lost at the end
  publish_stats();
}

bool StreamEventQueue::take(StreamEventBatch& out) {
  std::lock_guard<std::mutex> lk(mu_);
  if (ready_.empty()) return false;
  StreamEventBatch next = std::move(ready_.front());
  ready_.pop_front();
  out.clear();
  if (spare_.size() < 2) spare_.push_back(std::move(out));
  out = std::move(next);
  room_.notify_one();
  return true;
}

void StreamEventQueue::abandon() {
  std::lock_guard<std::mutex> lk(mu_);
  abandoned_ = true;
  ready_.clear();
  room_.notify_all();
}

void StreamEventQueue::publish_stats() {
  std::lock_guard<std::mutex> lk(mu_);
  const uint64_t batches = counters_.batches, events = counters_.events;
  static_cast<TcpPipelineStats&>(counters_) = pipeline_.stats();
  counters_.batches = batches;
  counters_.events = events;
  snapshot_ = counters_;
}

StreamEventStats StreamEventQueue::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return snapshot_;
}

StreamEventRecord* StreamEventQueue::append(StreamEventType type, uint64_t id, int dir, uint64_t ts) {
  // Overflowing, the batch still takes opens, gaps and closes, up to four times its size.
  if (current_.events.size() >= 4 * opt_.batch_max_events) {
    ++counters_.dropped_events;
    return nullptr;
  }
  if (current_.events.empty()) current_started_ms_ = now_ms();
  current_.events.push_back(StreamEventRecord{});
  StreamEventRecord* e = &current_.events.back();
  e->stream_id = id;
  e->ts_ns = ts;
  e->type = static_cast<uint8_t>(type);
  e->dir = static_cast<uint8_t>(dir);
  e->data_offset = static_cast<uint32_t>(current_.data.size());
  return e;
}

void StreamEventQueue::on_open(const StreamInfo& info) {
  StreamEventRecord* e = append(StreamEventType::kOpen, info.id, 0, info.first_ts);
  if (!e) return;
  StreamOpenInfo o{};
  for (int s = 0; s < 2; ++s) {
    std::memcpy(o.addr[s], info.side[s].addr, 16);
    o.port[s] = info.side[s].port;
  }
  o.vlan = info.vlan;
  o.ip_version = info.ip_version;
  e->length = sizeof o;
  const auto* p = reinterpret_cast<const uint8_t*>(&o);
  current_.data.insert(current_.data.end(), p, p + sizeof o);
}

void StreamEventQueue::on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t whole, uint64_t ts) {
  const auto len = static_cast<uint32_t>(kept_below(opt_.max_direction_bytes, offset, whole));
  counters_.truncated_bytes += whole - len;
  if (len == 0) return;
  const uint64_t id = s.id;
  if (overflow_ || current_.data.size() + len > 4 * opt_.batch_max_bytes) {
    counters_.dropped_data_bytes += len;
    append_gap(id, dir, offset, len, kGapQueueDrop, ts);
    return;
  }
  StreamEventRecord* e = append(StreamEventType::kData, id, dir, ts);
  if (!e) {
    counters_.dropped_data_bytes += len;
    return;
  }
  e->offset = offset;
  e->length = len;
  const size_t at = current_.data.size();
  current_.data.insert(current_.data.end(), data, data + len);
  if (opt_.payload_as_text) {
    for (uint8_t* b = current_.data.data() + at; b != current_.data.data() + at + len; ++b) *b = kText.shown[*b];
  }
}

void StreamEventQueue::on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t whole) {
  const uint64_t len = kept_below(opt_.max_direction_bytes, offset, whole);
  if (len) append_gap(s.id, dir, offset, len, 0, ts_);
}

void StreamEventQueue::append_gap(uint64_t id, int dir, uint64_t offset, uint64_t len, uint8_t detail, uint64_t ts) {
  if (!current_.events.empty()) {
    StreamEventRecord& last = current_.events.back();
    if (last.type == static_cast<uint8_t>(StreamEventType::kGap) && last.stream_id == id && last.dir == dir &&
        last.detail == detail && last.offset + last.length == offset) {
      last.length += len;
      return;
    }
  }
  StreamEventRecord* e = append(StreamEventType::kGap, id, dir, ts);
  if (!e) return;
  e->offset = offset;
  e->length = len;
  e->detail = detail;
}

void StreamEventQueue::on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) {
  StreamEventRecord* e = append(StreamEventType::kClose, s.id, 0, ts);
  if (e) e->detail = static_cast<uint8_t>(reason);
}

}  // namespace podspan
