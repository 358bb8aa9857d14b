#include "shadow/exchange_queue.h"

#include <chrono>

#include "shadow/exchange_rows.h"

namespace podspan {

uint64_t ExchangeQueue::now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void ExchangeQueue::row_done(bool exchange) {
  ++current_.rows;
  if (exchange) ++current_.exchanges;
  if (current_.bytes() >= opt_.batch_max_bytes) maybe_push(false);
}

void ExchangeQueue::maybe_push(bool force) {
  if (current_.empty() && unreported_drops_ == 0) return;
  if (!force && current_.bytes() < opt_.batch_max_bytes && now_ms() - started_ms_ < opt_.flush_ms) return;
  if (unreported_drops_ > 0) {
    // What live capture dropped before this batch, for JavaScript to count.
    ExchangeRowWriter(current_, ExchangeRowKind::kSkip, 0).str("queue_full").num(static_cast<double>(unreported_drops_)).end();
    ++current_.rows;
  }
  const uint64_t exchanges = current_.exchanges;
  const auto when = force ? BatchQueue<ExchangeBatch>::When::kForce
                    : opt_.wait_for_room ? BatchQueue<ExchangeBatch>::When::kWaitForRoom
                                         : BatchQueue<ExchangeBatch>::When::kIfRoom;
  switch (queue_.push(current_, when)) {
    case BatchQueue<ExchangeBatch>::Push::kPushed: {
      std::lock_guard<std::mutex> lk(mu_);
      ++counters_.batches;
      counters_.exchanges += exchanges;
      unreported_drops_ = 0;
      break;
    }
    case BatchQueue<ExchangeBatch>::Push::kFull: {
      std::lock_guard<std::mutex> lk(mu_);
      ++counters_.dropped_batches;
      counters_.dropped_exchanges += exchanges;
      unreported_drops_ += exchanges;
      current_ = ExchangeBatch();
      return;
    }
    case BatchQueue<ExchangeBatch>::Push::kAbandoned:
      current_ = ExchangeBatch();
      unreported_drops_ = 0;
      return;
  }
  if (on_ready_) on_ready_();
}

ExchangeQueueStats ExchangeQueue::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return counters_;
}

}  // namespace podspan
