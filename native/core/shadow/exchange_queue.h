// Exchanges to JavaScript (Contract 1 of shadow testing): the extractor writes rows
// (exchange_rows.h) into the current batch's `meta` and the bytes they slice into its `data`;
// full or old batches go through a bounded queue. Reading a file waits for room; live capture
// never blocks: a batch that finds the queue full is dropped whole, its exchanges counted
// "queue_full" (reported by a skip row in the next batch that gets through, and in the stats).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "common/batch_queue.h"

namespace podspan {

struct ExchangeBatch {
  std::string meta;  // rows (exchange_rows.h)
  std::string data;  // bodies, turns: sliced by the rows' [off, len] pairs
  uint64_t rows = 0, exchanges = 0;
  bool empty() const { return rows == 0; }
  size_t bytes() const { return meta.size() + data.size(); }
};

struct ExchangeQueueOptions {
  bool wait_for_room = false;  // reading a file: block instead of dropping
  size_t batch_max_bytes = 4 << 20;
  size_t queue_max_batches = 16;
  uint32_t flush_ms = 200;     // a partial batch goes out once this old
};

struct ExchangeQueueStats {
  uint64_t batches = 0, exchanges = 0;            // handed over
  uint64_t dropped_batches = 0, dropped_exchanges = 0;  // live: the queue was full
};

class ExchangeQueue {
 public:
  explicit ExchangeQueue(ExchangeQueueOptions options) : opt_(options), queue_(options.queue_max_batches) {}

  void set_on_ready(std::function<void()> on_ready) { on_ready_ = std::move(on_ready); }
  // The producer's thread: the batch rows are being written into.
  ExchangeBatch& current() {
    if (current_.empty() && current_.meta.empty()) started_ms_ = now_ms();
    return current_;
  }
  // One row was written (an exchange: http, h2 or turn); a full batch goes out.
  void row_done(bool exchange);
  // Pushes the current batch when full, older than flush_ms, or forced (the end).
  void maybe_push(bool force);
  // Any thread.
  bool take(ExchangeBatch& out) { return queue_.take(out); }
  void abandon() { queue_.abandon(); }
  ExchangeQueueStats stats() const;

  static uint64_t now_ms();

 private:
  ExchangeQueueOptions opt_;
  BatchQueue<ExchangeBatch> queue_;
  ExchangeBatch current_;
  uint64_t started_ms_ = 0;
  uint64_t unreported_drops_ = 0;  // exchanges dropped since the last batch that got through
  std::function<void()> on_ready_;
  mutable std::mutex mu_;
  ExchangeQueueStats counters_;  // guarded by mu_
};

}  // namespace podspan
