// A bounded queue of batches between a producer thread (capture) and a consumer (JavaScript):
// push() either waits for room (reading a file), reports the queue full (live capture: the
// caller decides what to drop and counts it), or goes past the cap (the end, so nothing is lost
// there). abandon(): the consumer is gone; waiting stops and everything is discarded from then on.
// A consumer done with a batch may give it back emptied (give_back), and the producer fill it
// next (take_spare) instead of growing fresh buffers, whose first touch costs page faults.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace podspan {

template <class Batch>
class BatchQueue {
 public:
  enum class Push { kPushed, kFull, kAbandoned };
  enum class When { kWaitForRoom, kIfRoom, kForce };

  explicit BatchQueue(size_t max_batches) : max_(max_batches ? max_batches : 1) {}

  // Moves `b` into the queue (kPushed; b is left empty) or leaves it as it was (kFull, kAbandoned).
  Push push(Batch& b, When when) {
    std::unique_lock<std::mutex> lk(mu_);
    if (abandoned_) return Push::kAbandoned;
    if (ready_.size() >= max_) {
      if (when == When::kIfRoom) return Push::kFull;
      if (when == When::kWaitForRoom) {
        room_.wait(lk, [this] { return abandoned_ || ready_.size() < max_; });
        if (abandoned_) return Push::kAbandoned;
      }
    }
    ready_.push_back(std::move(b));
    b = Batch();
    return Push::kPushed;
  }

  // Any thread: moves the oldest batch into out; false if none.
  bool take(Batch& out) {
    std::lock_guard<std::mutex> lk(mu_);
    if (ready_.empty()) return false;
    out = std::move(ready_.front());
    ready_.pop_front();
    room_.notify_one();
    return true;
  }

  // The consumer: an emptied batch whose buffers the producer may reuse (two are kept: a
  // consumer that keeps up has one or two batches in hand).
  void give_back(Batch&& b) {
    std::lock_guard<std::mutex> lk(mu_);
    if (spares_.size() < kMaxSpares) spares_.push_back(std::move(b));
  }
  // The producer: a batch given back, into `into` (an empty one); false if none.
  bool take_spare(Batch& into) {
    std::lock_guard<std::mutex> lk(mu_);
    if (spares_.empty()) return false;
    into = std::move(spares_.back());
    spares_.pop_back();
    return true;
  }
  void abandon() {
    std::lock_guard<std::mutex> lk(mu_);
    abandoned_ = true;
    ready_.clear();
    room_.notify_all();
  }

  bool abandoned() const {
    std::lock_guard<std::mutex> lk(mu_);
    return abandoned_;
  }

 private:
  const size_t max_;
  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<Batch> ready_;
  static constexpr size_t kMaxSpares = 2;
  std::vector<Batch> spares_;
  bool abandoned_ = false;
};

}  // namespace podspan
