// Shadow testing's extractor: from the reassembler's stream events, what production's clients
// asked and what production answered, for replay to a candidate (Contract 1: rows laid out as
// exchange_rows.h says, into an ExchangeQueue batch). HTTP/1 requests are parsed by Http1Parser
// with content capture on and paired in order with their responses (pipelining; 1xx interim
// responses skipped; HEAD, close-delimited bodies, 100-continue); HTTP/2 (prior knowledge or h2c
// Upgrade, gRPC) by Http2Parser with content capture, one row per stream; raw mode cuts each
// connection into turns (the client's bytes until the direction changes, then the server's
// reply). What cannot be replayed is counted by reason instead (skip rows). Per-connection state lives in an array indexed by
// StreamInfo::slot and is reused: steady state allocates nothing per exchange.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocols/http1.h"
#include "protocols/http2.h"
#include "reassembly/reassembly.h"
#include "shadow/exchange_queue.h"

namespace podspan {

struct ShadowOptions {
  bool raw = false;                   // --protocol raw: turns instead of HTTP
  std::vector<uint16_t> server_ports; // the server when the SYN was not seen; raw: also which connections
  std::vector<std::string> methods;   // upper case; empty: every method
  double percent = 100;               // whole connections in, by a symmetric hash of the 4-tuple
  size_t max_body_bytes = 1 << 20;    // response body (raw: reply) bytes kept; beyond: truncated
  size_t max_request_bytes = 1 << 20; // a request body (raw: turn) longer than this: too_large
  uint32_t max_pending_requests = 128;  // HTTP/1 requests awaiting their response per connection
};

enum class SkipReason : uint8_t { kTls, kH2Midstream, kMethod, kTooLarge, kGap, kNotHttp, kPercent, kQueueFull, kCount };
const char* skip_reason_name(SkipReason r);  // "tls", "h2-midstream", ...

struct ShadowExtractorStats {
  uint64_t connections = 0;  // open lines written
  uint64_t exchanges = 0;    // http and turn lines written
  std::array<uint64_t, static_cast<size_t>(SkipReason::kCount)> skipped{};
};

// Whether a connection is in the --percent share: a hash of its two endpoints that does not
// depend on which one is called the client.
bool shadow_percent_selects(const StreamInfo& s, double percent);
// The client's first bytes are a TLS ClientHello (a handshake record, type client_hello).
bool looks_like_tls_client_hello(const uint8_t* d, uint32_t n);

class ShadowExtractor {
 public:
  ShadowExtractor(ShadowOptions options, ExchangeQueue& out);
  ~ShadowExtractor();
  ShadowExtractor(const ShadowExtractor&) = delete;
  ShadowExtractor& operator=(const ShadowExtractor&) = delete;

  void on_open(const StreamInfo& s);
  // The stream's first segment: a SYN says who the client is (syn_from: its dir), else -1.
  void on_first_segment(const StreamInfo& s, int syn_from);
  void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts);
  void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len);
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts);
  const ShadowExtractorStats& stats() const { return stats_; }

 private:
  struct Conn;
  struct Pending;
  friend struct ShadowHttp1Events;
  friend struct ShadowH2Events;
  Conn& conn(uint32_t slot);
  bool selected(const StreamInfo& s) const;
  void decide(Conn& c, const uint8_t* data, uint32_t len);
  void announce(Conn& c);
  void skip(Conn& c, SkipReason r, uint64_t count = 1);
  void stop(Conn& c);

  // HTTP/1
  void feed_http1(Conn& c, int role, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts);
  void request_head(Conn& c, const Http1Message& m);
  void request_done(Conn& c, const Http1Message& m);
  Http1Parser::Body response_head(Conn& c, const Http1Message& m);
  void response_done(Conn& c, const Http1Message& m);
  void flush_ready(Conn& c);
  void write_http(Conn& c, const Pending& p, const Http1Content& resp);
  void pop(Conn& c);
  bool method_wanted(const char* method) const;

  // HTTP/2 (prior knowledge, or h2c Upgrade from HTTP/1)
  void start_h2(Conn& c, uint64_t client_offset, uint64_t server_offset);
  void upgrade_to_h2(Conn& c, Pending& req, const Http1Message& switching);
  void h2_stream(Conn& c, const Http2Stream& s);

  // raw
  void raw_data(Conn& c, int role, const uint8_t* data, uint32_t len, uint64_t ts);
  void raw_turn_done(Conn& c);

  ShadowOptions opt_;
  ExchangeQueue& out_;
  ShadowExtractorStats stats_;
  std::vector<std::unique_ptr<Conn>> conns_;  // by slot
  std::string path_, route_, address_[2];     // scratch, reused
};

}  // namespace podspan
