// Application records from reassembled TCP streams and UDP datagrams: recognises HTTP/1.x,
// HTTP/2 (prior knowledge or h2c Upgrade; gRPC by its content type) and DNS on each stream,
// runs the parsers of protocols/, pairs each request with its response (HTTP/1 in order, a
// FIFO per connection as pipelining requires; HTTP/2 by stream id; DNS by transaction id) and
// hands HttpRecord/DnsRecord to a RecordSink. Per-connection state lives in an array indexed by
// StreamInfo::slot and is reused when the slot is: steady state allocates nothing per packet.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/records.h"
#include "protocols/dns.h"
#include "protocols/http1.h"
#include "protocols/http2.h"
#include "reassembly/reassembly.h"

namespace podspan {

struct AppAnalyzerLimits {
  uint32_t max_pending_requests = 128;  // HTTP/1 requests awaiting their response, per connection
  uint32_t max_h2_streams = 256;        // concurrent HTTP/2 streams tracked per connection
  uint32_t max_dns_pending = 16384;     // UDP DNS queries awaiting their response (all flows)
  uint32_t max_tcp_dns_pending = 64;    // DNS-over-TCP queries awaiting theirs, per connection
  uint64_t dns_timeout_ns = 5'000'000'000ull;  // an unanswered UDP query becomes a record then
  uint32_t max_held_bytes = 16 * 1024;  // server bytes kept while waiting for the client's first
};

struct AppAnalyzerStats {
  uint64_t http_requests = 0, http_responses = 0;  // HTTP/1 messages parsed
  uint64_t http_records = 0;                       // HTTP/1 and HTTP/2 records made
  uint64_t no_response = 0;                        // ... of which no response was seen
  uint64_t unmatched_responses = 0;                // HTTP/1 responses with no request waiting
  uint64_t pending_dropped = 0;                    // requests past max_pending_requests (a record each, note "queue_full")
  uint64_t h2_connections = 0, h2c_upgrades = 0, h2_streams = 0, h2_streams_dropped = 0, grpc_calls = 0;
  uint64_t skipped_h2_midstream = 0;  // HTTP/2 picked up without its start: HPACK state unknown, not decoded
  uint64_t parse_errors = 0;          // directions of a recognised protocol that stopped on bad input
  uint64_t gaps = 0;                  // gaps in directions of a recognised protocol (HTTP/2, DNS: parsing stops)
  uint64_t http1_resyncs = 0;         // HTTP/1 directions parsed again after a gap, at a message start
  uint64_t dns_queries = 0, dns_responses = 0, dns_records = 0;
  uint64_t dns_unmatched_responses = 0, dns_timeouts = 0, dns_malformed = 0;
  uint64_t dns_table_full = 0;  // UDP queries that found the table full (recorded at once, rcode -1)
};

// An HTTP/1 request waiting for its response.
struct PendingRequest {
  uint64_t first_ts = 0, last_ts = 0, start = 0, bytes = 0;
  bool complete = false;  // its last byte was seen
  int method_id = -1;       // llhttp_method_t
  const char* method = "";  // llhttp's name for it (static storage): not copied per request
  char version[3] = {'1', '.', '1'};
  std::string host, target;
  std::string_view version_text() const { return {version, sizeof version}; }
};

// "/users/42/items?x=1" -> "/users/42/items": the path of a request-target (absolute-form loses
// scheme and authority); route: path segments that are all digits, a UUID, or 8+ hex digits
// become "{id}" ("/users/{id}/items").
std::string_view http_path(std::string_view target);  // a view into target (or "/")
void http_path(std::string_view target, std::string& path);
// The first bytes of an HTTP/1 request (a method token, upper-case letters, '-', '_', and a
// space, or only such letters so far) or response ("HTTP/1." or a prefix of it).
bool looks_like_http1_request(const uint8_t* d, uint32_t n);
bool looks_like_http1_response(const uint8_t* d, uint32_t n);
void http_route(std::string_view path, std::string& route);

class AppAnalyzer {
 public:
  explicit AppAnalyzer(RecordSink& sink, AppAnalyzerLimits limits = {});
  ~AppAnalyzer();
  AppAnalyzer(const AppAnalyzer&) = delete;
  AppAnalyzer& operator=(const AppAnalyzer&) = delete;

  void on_open(const StreamInfo& s);
  void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts);
  void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len);
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts);  // flushes the stream's records
  // Which side of the stream in `slot` is the client (0: side[0]); before its data, as a hint.
  void set_client_side(uint32_t slot, int client_side);
  // A UDP datagram to or from port 53; e.client is its source, e.server its destination.
  void on_udp(const RecordEndpoints& e, const uint8_t* payload, uint32_t len, uint64_t ts);
  void expire(uint64_t now);  // UDP queries older than the timeout become records (rcode -1)
  void finish(uint64_t now);  // every pending query becomes a record (TCP ones come with on_close)
  // "http", "h2", "grpc", "dns" or "" for the stream in `slot` (valid until its on_close).
  const char* app_of(uint32_t slot) const;
  AppAnalyzerStats stats() const;

 private:
  struct Conn;
  struct DnsEntry;
  Conn& conn(uint32_t slot);
  void detect(Conn& c, int role, const uint8_t* data, uint32_t len, uint16_t server_port, uint16_t client_port);
  void feed(Conn& c, int role, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts);
  void start_http1(Conn& c);
  void start_h2(Conn& c, uint64_t client_offset, uint64_t server_offset);
  void upgrade_to_h2(Conn& c, const Http1Message& switching);
  void flush_conn(Conn& c);

  // Records.
  friend struct AppConnEvents;
  void http1_gap(Conn& c, int role);
  void http1_request_head(Conn& c, const Http1Message& m);
  void http1_request_done(Conn& c, const Http1Message& m);
  Http1Parser::Body http1_response_head(Conn& c, const Http1Message& m);
  void http1_response_done(Conn& c, const Http1Message& m);
  void emit_http1(const Conn& c, const PendingRequest& p, const Http1Message* resp, const char* note);
  void pop_pending(Conn& c);
  void forward_upgraded(Conn& c, int role);
  void emit_h2(Conn& c, const Http2Stream& s, bool complete);
  void tcp_dns_message(Conn& c, int role, const uint8_t* data, size_t len, uint64_t first_ts);
  void emit_dns(const RecordEndpoints& ends, uint64_t uid, const char* proto, uint64_t ts, uint16_t id,
                const std::string& query, uint16_t qtype, int rcode, uint16_t answers, uint64_t latency);
  void dns_expire(uint64_t now, bool all);
  void dns_remove(size_t i);

  RecordSink& sink_;
  AppAnalyzerLimits limits_;
  AppAnalyzerStats stats_;
  std::vector<std::unique_ptr<Conn>> conns_;  // by slot; unique_ptr: parsers keep pointers to theirs
  std::string route_;                         // the HTTP record's route being made (keeps its capacity)
  PendingRequest overflow_;                   // a request past the queue cap
  DnsRecord dns_;
  DnsMessage dns_msg_;
  // UDP queries awaiting a response: open addressing, linear probing, fixed capacity.
  std::vector<DnsEntry> dns_table_;
  size_t dns_used_ = 0;
};

}  // namespace podspan
