// What analytics produces, one record per TCP connection, HTTP exchange and DNS transaction.
// Field names follow the JSONL files users read (flows.jsonl, http.jsonl, dns.jsonl; Zeek's
// conn/http/dns logs are the model): the JSON writer maps each member to the field named in its
// comment. Times are capture times in ns since the epoch; durations in ns (the JSON has ms).
// Addresses are 16 bytes, IPv4 in the first 4 (ip_version says which).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace podspan {

struct RecordEndpoints {
  uint8_t ip_version = 4;
  uint16_t vlan = 0;
  uint8_t client[16] = {0};  // client, client_port
  uint8_t server[16] = {0};  // server, server_port
  uint16_t client_port = 0, server_port = 0;
};

constexpr uint64_t kUnknownNs = UINT64_MAX;  // a duration or time not measured (written as null)

enum class ConnState : uint8_t {
  kEstablished,    // "established": handshake seen, still open at the end of the capture
  kRejected,       // "rejected": RST answered the SYN
  kSynUnanswered,  // "syn_unanswered": SYN(s) only
  kReset,          // "reset": established, then RST
  kClosed,         // "closed": established, then FIN both ways
  kTimeout,        // "timeout": idle past the flow timeout (or evicted)
  kMidstream,      // "midstream": picked up without its handshake
};
const char* conn_state_name(ConnState s);

// Each record is its numbers (FlowNumbers, ...: trivially copyable, what a queued batch keeps as
// it is, analysis/record_batch.h) and its strings (views of them: FlowTexts, ...).
struct FlowNumbers {
  uint64_t uid = 0;  // "uid": "C" + the stream id, shared with the connection's http/dns records
  RecordEndpoints ends;
  uint64_t ts = 0;                  // "ts": first packet
  uint64_t duration = 0;            // "duration_ms": first to last packet
  uint64_t client_bytes = 0, server_bytes = 0;      // TCP payload, retransmissions included
  uint64_t client_packets = 0, server_packets = 0;
  uint64_t handshake_rtt = kUnknownNs;  // "handshake_rtt_ms": SYN to the ACK of the SYN/ACK
  uint64_t server_rtt = kUnknownNs;     // "server_rtt_ms": SYN to SYN/ACK (capture point to server and back)
  uint64_t client_rtt = kUnknownNs;     // "client_rtt_ms": SYN/ACK to its ACK (capture point to client and back)
  uint64_t retransmitted_packets = 0, out_of_order_packets = 0, zero_window_events = 0;
  uint64_t missed_bytes = 0;        // gaps the reassembler declared
  ConnState state = ConnState::kMidstream;
};
struct FlowRecord : FlowNumbers {
  std::string close_reason;         // "close_reason": fin, rst, timeout, evicted, end
  std::string app;                  // "app": http, h2, grpc, dns or empty when not recognised
};
struct FlowTexts {
  std::string_view close_reason, app;
};
inline FlowTexts texts_of(const FlowRecord& r) { return {r.close_reason, r.app}; }

struct HttpNumbers {
  uint64_t uid = 0;                 // the connection's
  RecordEndpoints ends;
  uint64_t ts = 0;                  // "ts": the request's first byte
  uint32_t stream_id = 0;           // "stream_id": HTTP/2 stream (0 for HTTP/1)
  int status = 0;                   // "status": 0 when no response was seen
  int grpc_status = -1;             // "grpc_status": -1 when not gRPC (written as null)
  uint64_t request_bytes = 0, response_bytes = 0;  // whole messages: head and body
  uint64_t latency = kUnknownNs;    // "latency_ms": request's last byte to response's first
  uint64_t duration = kUnknownNs;   // "duration_ms": request's last byte to response's last
};
struct HttpRecord : HttpNumbers {
  std::string version;              // "version": "1.0", "1.1", "2"
  std::string method, host, path;   // host: Host header or :authority; path without the query
  std::string route;                // "route": path with ids replaced by {id}
  std::string note;                 // "note": why a record is incomplete ("no_response", "gap", ...)
};
struct HttpTexts {
  std::string_view version, method, host, path, route, note;
};
inline HttpTexts texts_of(const HttpRecord& r) { return {r.version, r.method, r.host, r.path, r.route, r.note}; }

struct DnsNumbers {
  uint64_t uid = 0;                 // TCP: the connection's; UDP: 0 (written as null)
  RecordEndpoints ends;
  uint64_t ts = 0;                  // "ts": the query
  uint16_t trans_id = 0;            // "trans_id"
  uint16_t qtype = 0;               // "qtype" (number) and "qtype_name" (A, AAAA, ...)
  int rcode = -1;                   // "rcode" and "rcode_name"; -1 when no response was seen
  uint16_t answers = 0;             // "answers": the answer count
  uint64_t latency = kUnknownNs;    // "latency_ms": query to response
};
struct DnsRecord : DnsNumbers {
  std::string proto;                // "proto": "udp" or "tcp"
  std::string query;                // "query": the first question's name
};
struct DnsTexts {
  std::string_view proto, query;
};
inline DnsTexts texts_of(const DnsRecord& r) { return {r.proto, r.query}; }

// An alert of the Detector (detection/detector.h): one when it fires, one when it clears.
enum class AlertKind : uint8_t { kSynFlood, kPortScan, kRequestSurge, kErrorSurge, kNoisyClient };
const char* alert_kind_name(AlertKind k);  // "syn_flood", "port_scan", ...
const char* alert_unit(AlertKind k);       // "syn/s", "targets/s", "req/s", "errors/s", "share"
// Why a cleared line was written: the rate fell back ("quiet"), its key was evicted from a full
// table ("evicted"), or the capture ended while it was firing ("capture_end": the attack may not have).
enum class ClearCause : uint8_t { kNone, kQuiet, kEvicted, kCaptureEnd };
const char* clear_cause_name(ClearCause c);  // null for kNone

struct AlertRecord {
  AlertKind kind = AlertKind::kSynFlood;
  uint64_t id = 0;                  // "alert_id": id_prefix + id, the same on the fired and cleared lines
  char id_prefix = 'A';             // 'A': a capture's alert; 'S': its session's (detection/scan_group.h)
  bool cleared = false;             // "state": "fired" or "cleared"
  ClearCause cleared_by = ClearCause::kNone;  // "cleared_by" (cleared only; null when fired)
  uint64_t ts = 0;                  // "ts": the second it fired (or cleared) began
  // "server", "server_port" (ends.server, ends.server_port) and "source" (ends.client): which
  // are set depends on the kind; the others are null.
  RecordEndpoints ends;
  bool has_server = false, has_source = false;
  std::string route;                // "route": request_surge per route; empty (null) otherwise
  double rate = 0;                  // "rate": in the second it fired; cleared: the peak
  double baseline = 0;              // "baseline": the learnt mean
  double threshold = 0;             // "threshold": what the rate had to exceed
  double share = -1;                // "share": half-open, rejected, error or client share; < 0: null
  uint64_t started = 0;             // "started" and "duration_s" (cleared only)
  std::string evidence;             // "evidence": the pcapng's name; empty (null) when none
};

// Where analysers put their records (the queue to JavaScript, a file writer, a test's vector).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void flow(const FlowRecord& r) = 0;
  virtual void http(const HttpRecord& r) = 0;
  virtual void dns(const DnsRecord& r) = 0;
  virtual void alert(const AlertRecord& r) {}  // only sinks that pass alerts on take them
  // An HTTP record as its numbers and views of its strings (valid during the call): how the
  // application analyser hands them over, so that a sink which copies the strings anyway (the
  // queue) needs no record built first. By default the record is built and given to http().
  virtual void http_parts(const HttpNumbers& n, const HttpTexts& t);
};

}  // namespace podspan
