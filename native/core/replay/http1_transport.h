// HTTP/1 to a plain-http replay target off the JavaScript thread: one thread with epoll owns the
// target's connections, one per lane (a captured connection), requests in each lane's order with
// pipelining 1. A lane's connection opens at its first request (non-blocking connect), closes after
// an answer when the request asked for it (`close_after`) or the target said so, and is opened
// again by the lane's next request: the target sees the captured connection boundaries.
//
// The caller hands requests over from any thread (submit: the request's bytes as sent, built by
// the caller) and takes completions in batches (take); on_ready is called from the transport's
// thread when completions wait and none were waiting before, so the caller wakes once per batch.
// Both queues are bounded: a submit that finds max_queued requests not yet completed is refused
// and counted (the caller fails that request).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "replay/request_head.h"
#include "replay/same_answer.h"
#include "shadow/exchange_rows.h"

namespace podspan {

// Why a request failed, as the scheduler counts it (src/shadow/replay/lane.ts ReplayError.kind).
enum class ReplayFailure : uint8_t { kNone = 0, kRefused, kReset, kTimeout, kUnreachable, kProtocol, kError };
const char* replay_failure_name(ReplayFailure f);
// A socket error (errno) as the failure counted for it.
ReplayFailure replay_failure_of_errno(int err);

struct Http1TransportOptions {
  std::string host;  // name or address, resolved once by the transport's thread
  uint16_t port = 80;
  uint32_t timeout_ms = 5000;   // from submit to the answer's last byte
  size_t max_body = 64 * 1024;  // body bytes kept per answer (all counted)
  size_t max_queued = 65536;    // requests submitted and not yet completed
  // Tried in order instead of host's addresses when not empty (tests: an address that refuses first).
  std::vector<sockaddr_storage> addresses;
  // How a request handed over as its exchange row (kFromRow) is written.
  RequestHeadOptions head;
  // How an answer is compared with production's (kCompareAnswer).
  SameAnswerRules same;
};

// One finished request. Fixed layout: the addon copies a batch's records to JavaScript as they are.
struct ReplayCompletionRecord {
  uint32_t request_id = 0;
  uint8_t failure = 0;          // ReplayFailure
  uint8_t flags = 0;            // kBodyTruncated, kSameAsProduction
  uint16_t status = 0;
  uint32_t headers_len = 0;     // data: name \0 value \0 ... (failures: the message)
  uint32_t body_len = 0;        // data: the body kept, after the headers
  double body_bytes = 0;        // the whole body's length
  double latency_ms = 0;        // request written to the answer's first byte
  double duration_ms = 0;       // request written to the answer's last byte

  static constexpr uint8_t kBodyTruncated = 1;
  // The answer is the same as production's (same_answer.h): neither headers nor body follow.
  static constexpr uint8_t kSameAsProduction = 2;
};
static_assert(sizeof(ReplayCompletionRecord) == 40, "JavaScript reads 40-byte records");

struct ReplayCompletions {
  std::vector<ReplayCompletionRecord> records;
  std::string data;  // each record's headers then body, in record order
  void clear() {
    records.clear();
    data.clear();
  }
};

// One item of submit_batch: a request (its bytes the next `length` bytes of the batch's bytes) or
// the end of a lane.
struct ReplaySubmission {
  static constexpr uint32_t kHead = 1;        // a HEAD: its answer has no body
  static constexpr uint32_t kCloseAfter = 2;  // close the connection after the answer
  static constexpr uint32_t kCloseLane = 4;   // no request: the lane is done (close_lane)
  // The bytes are the exchange's row (exchange_rows.h, its length first) and then the body: the
  // transport's thread writes the head (request_head.h) and knows HEAD and close from the row.
  static constexpr uint32_t kFromRow = 8;
  // With kFromRow: production's body follows the request's body, and the answer is compared with
  // production's (same_answer.h); one the same comes back as kSameAsProduction alone.
  static constexpr uint32_t kCompareAnswer = 16;
  uint32_t lane = 0, request_id = 0, flags = 0, length = 0;
};

struct Http1TransportStats {
  uint64_t submitted = 0, completed = 0, refused_full = 0, connections = 0;
};

class Http1Transport {
 public:
  Http1Transport(Http1TransportOptions options, std::function<void()> on_ready);
  ~Http1Transport();
  Http1Transport(const Http1Transport&) = delete;
  Http1Transport& operator=(const Http1Transport&) = delete;

  // Any thread: requests and lane ends in order, with one lock and one wake-up of the transport's
  // thread. Once max_queued requests are outstanding the batch's further requests are refused
  // (counted in refused_full; no completion comes for them): returns how many were, always the
  // last ones of the batch. Lane ends are never refused.
  size_t submit_batch(const ReplaySubmission* items, size_t n, const char* bytes);
  // One request (`request`: its whole bytes as sent); false when refused.
  bool submit(uint32_t lane, uint32_t request_id, bool head, bool close_after, const std::string& request);
  // The lane has no more requests; its connection closes once the last one is done.
  void close_lane(uint32_t lane);
  // Any thread: swaps the completions waiting into `out` (cleared first); false when none.
  bool take(ReplayCompletions& out);
  Http1TransportStats stats() const;
  // Closes every connection and ends the thread; requests not completed are dropped.
  void stop();

 private:
  struct Request {
    uint32_t id;
    bool head, close_after;
    uint64_t deadline_ms;
    std::string bytes;
    bool from_row = false;  // bytes: row + body until drain_inbox writes the head (from_row_to_wire)
    bool compare = false;   // kCompareAnswer: `production` holds the row and production's body
    std::string production;
  };
  struct Command {
    uint32_t lane;
    bool close;  // close_lane rather than a request
    Request request;
  };
  struct Lane;
  struct Deadline {
    uint64_t at_ms;
    uint32_t lane, request_id;
  };

  void run();
  void drain_inbox();
  bool from_row_to_wire(Request& r);
  bool same_as_production(const Request& r, const ResponseReader::Answer& a);
  void pump(Lane& lane);
  void start_connect(Lane& lane);
  void connect_next_address(Lane& lane);
  void write_front(Lane& lane);
  void on_event(uint64_t key, uint32_t events);
  void on_readable(Lane& lane);
  void fail_front(Lane& lane, ReplayFailure failure, const std::string& message);
  void complete_front(Lane& lane);
  void close_connection(Lane& lane);
  void expire(uint64_t now);
  void finish_lane_if_done(uint32_t id);
  void push_completion(const ReplayCompletionRecord& r, const char* headers, size_t headers_len, const char* body, size_t body_len);
  void watch(Lane& lane, uint32_t events, bool add);

  Http1TransportOptions opt_;
  std::function<void()> on_ready_;
  int epoll_fd_ = -1, wake_fd_ = -1;
  std::vector<sockaddr_storage> addrs_;  // the target's addresses (the transport's thread only)
  size_t preferred_address_ = 0;         // the last one a connect succeeded on
  int resolve_error_ = 0;
  std::string resolve_message_;

  mutable std::mutex mu_;
  std::vector<Command> inbox_;
  ReplayCompletions done_;
  Http1TransportStats stats_;
  uint64_t outstanding_ = 0;  // submitted, not completed (bounded by max_queued)
  bool stopping_ = false;
  std::atomic<bool> sleeping_{false};  // the thread is in (or about to enter) epoll_wait

  // The transport's thread only.
  std::unordered_map<uint32_t, std::unique_ptr<Lane>> lanes_;
  std::deque<Deadline> deadlines_;  // in submit order = deadline order (one timeout for all)
  std::vector<Command> work_;
  std::vector<uint8_t> read_buf_;
  ReplayCompletions local_;  // completions of one loop turn, handed over at its end
  ExchangeRowRequest row_request_;  // scratch for from_row_to_wire and the answers' check
  ExchangeRowResponse row_response_;
  SameAnswerCheck same_;
  std::string wire_;
  std::thread thread_;
};

}  // namespace podspan
