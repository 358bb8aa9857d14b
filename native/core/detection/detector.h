// The Detector: spots SYN floods, port scans, request and error surges and noisy clients in the
// traffic the Analyzer sees, on the capture thread, by capture time (packet timestamps, never the
// wall clock: a file gives the alerts live traffic gives). Events are counted into per-second
// buckets per key; when a second ends each key active (or alerting) in it is judged against its
// own baseline (detection/baseline.h) and its alert fires or clears (AlertRecord through the
// RecordSink; on fire, the EvidenceSink keeps the packets). Keys live in bounded tables
// (detection/key_table.h); idle keys cost nothing until touched again.
//
// Kinds (README.md, Detection, says the same for users):
//   syn_flood      server addr:port   SYNs without ACK/s; while >= half_open share of them did
//                                     not complete a handshake in that second
//   port_scan      source addr        distinct (dst addr, dst port) it sent SYNs (or UDP towards
//                                     a lower port) to per second; while <= 1 - rejected share
//                                     of its SYNs were answered by a SYN/ACK
//   request_surge  server addr:port   HTTP requests/s, per route and for the server (route null)
//   error_surge    server addr:port   5xx and gRPC non-OK responses/s; while their share of the
//                                     server's requests >= error share
//   noisy_client   server + source    the source's share of the server's requests; while the
//                                     server's rate >= the floor and the share >= share
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analysis/records.h"
#include "decode/decode.h"
#include "detection/baseline.h"
#include "detection/detect_config.h"
#include "detection/evidence_sink.h"
#include "detection/key_table.h"
#include "detection/second_sketch.h"
#include "reassembly/tcp_pipeline.h"

namespace podspan {

struct DetectStats {
  uint64_t alerts_fired = 0, alerts_cleared = 0, active_alerts = 0;
  uint64_t servers = 0, routes = 0, sources = 0, pairs = 0;                          // keys held now
  uint64_t evicted_servers = 0, evicted_routes = 0, evicted_sources = 0, evicted_pairs = 0;
  uint64_t targets_saturated = 0;  // a second's distinct-target set was full: counted as distinct
  uint64_t reserved_bytes = 0;     // the tables' memory bound (reserved, touched or not)
};

class ScanGroup;

class Detector : public TcpPacketObserver {
 public:
  // kCapture: one capture's detector. kScanGroup: the ScanGroup's (port_scan only; alert ids
  // "S1", "S2", ...).
  enum class Role : uint8_t { kCapture, kScanGroup };
  // Alerts go to `alerts` (RecordSink::alert).
  Detector(const DetectConfig& config, RecordSink& alerts, Role role = Role::kCapture);
  ~Detector() override;  // leaves its scan group if finish() did not

  // Called on fire, when set (the lead's EvidenceRecorder); not owned.
  void set_evidence(EvidenceSink* evidence) { evidence_ = evidence; }
  // port_scan is then judged by the group for all its members (detection/scan_group.h): this
  // detector hands it its probes, passes the group's alerts on and records their evidence.
  // Not owned; it must outlive this detector's finish().
  void set_scan_group(ScanGroup* group);

  // Every TCP packet the pipeline decoded (fragments rebuilt, tunnels opened).
  void on_tcp_packet(const Decoded& d, uint64_t ts) override;
  // A connection's handshake completed (the ACK of the SYN/ACK): server side's address and port.
  void on_handshake(uint8_t ip_version, const uint8_t* server, uint16_t server_port, uint64_t ts);
  // Every UDP datagram: towards a lower port, it counts as a port_scan target of its sender.
  void on_udp(const Decoded& d, uint64_t ts);
  // Every HTTP exchange (HTTP/1, HTTP/2, gRPC), counted in the second it is reported in.
  void on_http(const HttpNumbers& r, std::string_view route);
  void on_http(const HttpRecord& r) { on_http(r, r.route); }
  // Live capture with no packet for a while: capture time still passes. Closes the seconds before
  // `now` (the wall clock, a little behind), so an alert whose traffic stopped clears on time.
  void advance_idle(uint64_t now);
  // The end of the capture: judges the last second, then clears the alerts still firing
  // (cleared_by "capture_end").
  void finish();

  DetectStats stats() const;

  // Keys, public for the tables' types; the Detector's own business otherwise.
  struct ServerKey {
    uint8_t addr[16];
    uint16_t port;
    uint8_t ip_version, pad;
    bool operator==(const ServerKey& o) const;
  };
  struct SourceKey {
    uint8_t addr[16];
    uint8_t ip_version, pad[3];
    bool operator==(const SourceKey& o) const;
  };
  static constexpr size_t kRouteMax = 107;  // longer routes are cut (a key is 128 bytes)
  struct RouteKey {
    ServerKey server;
    uint8_t len;
    char route[kRouteMax];
    bool operator==(const RouteKey& o) const;
  };
  struct PairKey {
    ServerKey server;
    SourceKey source;
    bool operator==(const PairKey& o) const;
  };

 private:
  struct Stamped {
    uint64_t second = UINT64_MAX;  // the second the counters are for
  };
  struct ServerState : Stamped {
    uint32_t syns = 0, handshakes = 0, requests = 0, errors = 0;
    uint64_t first_second = 0;  // when first seen: request_surge, error_surge, noisy_client warm up from here
    void reset_counts() { syns = handshakes = requests = errors = 0; }
    Baseline syn, req, err;
    AlertState syn_alert, req_alert, err_alert;
  };
  struct SourceState : Stamped {
    uint32_t syns = 0, synacks = 0, targets = 0;
    void reset_counts() { syns = synacks = targets = 0; }
    Baseline scan;
    AlertState alert;
  };
  struct RouteState : Stamped {
    uint32_t requests = 0;
    void reset_counts() { requests = 0; }
    Baseline req;
    AlertState alert;
  };
  struct PairState : Stamped {
    uint32_t requests = 0;
    void reset_counts() { requests = 0; }
    Baseline share;
    AlertState alert;
  };
  // A table with the list of its keys to judge when the current second ends.
  template <class Key, class Value>
  struct Keys {
    explicit Keys(size_t cap) : table(cap), listed(cap, UINT64_MAX) { active.reserve(cap); }
    KeyTable<Key, Value> table;
    std::vector<uint64_t> listed;   // per slot: the second it is listed for (kept across evictions)
    std::vector<uint32_t> active;   // slots to judge at the end of the current second
  };
  // What one second showed for one key and kind.
  struct Seen {
    double rate = 0;
    double share = -1;       // the kind's second number (-1: none)
    bool condition = true;   // the kind's condition held
    bool eligible = true;    // the key may fire (warm-up over)
  };

  // Whom an alert names (null: the field does not apply).
  struct Who {
    const ServerKey* server = nullptr;
    const SourceKey* source = nullptr;
    const RouteKey* route = nullptr;
  };

  void advance(uint64_t ts);
  void close_second(uint64_t s);
  // Judges each listed key of a table for second s (judge(key, value) returns whether one of
  // its alerts is still active: then it stays listed for the next second).
  template <class Key, class Value, class Judge>
  void judge_all(Keys<Key, Value>& keys, uint64_t s, Judge&& judge);
  // The key's entry, added when new (on_evict clears the alerts of the key it replaces), listed
  // for this second and its counters reset when they were for an older one.
  // `first`: set when this is the key's first touch in the current second.
  template <class Key, class Value, class OnEvict>
  Value& touch(Keys<Key, Value>& keys, const Key& k, OnEvict&& on_evict, bool* added = nullptr, bool* first = nullptr);
  ServerState& server(const ServerKey& k);
  SourceState& source(const SourceKey& k, bool* first = nullptr);
  void count_server_syn(const Decoded& d);  // syn_flood
  void count_probe(const Decoded& d);       // port_scan: a SYN
  void count_answer(const Decoded& d);      // port_scan: a SYN/ACK to a source
  // The SYN's or datagram's sender as a port_scan source, or null while below its admission.
  SourceState* probing_source(const Decoded& d);
  bool new_target(uint64_t h);
  // One second of one key and kind: steps its alert and learns (only while not alerting nor over).
  void judge(AlertKind kind, Baseline& b, AlertState& a, const Seen& seen, uint64_t s, const Who& who);
  void emit(AlertKind kind, AlertState& a, const Baseline& b, double rate, double share, uint64_t s, ClearCause cause,
            const Who& who);
  void clear_now(AlertKind kind, AlertState& a, const Baseline& b, const Who& who, ClearCause cause);
  // Clears every alert of one key (evicted, or the capture ended).
  using ServerEntry = KeyTable<ServerKey, ServerState>::Entry;
  using RouteEntry = KeyTable<RouteKey, RouteState>::Entry;
  using SourceEntry = KeyTable<SourceKey, SourceState>::Entry;
  using PairEntry = KeyTable<PairKey, PairState>::Entry;
  void clear_alerts(ServerEntry& e, ClearCause cause);
  void clear_alerts(RouteEntry& e, ClearCause cause);
  void clear_alerts(SourceEntry& e, ClearCause cause);
  void clear_alerts(PairEntry& e, ClearCause cause);
  const DetectRule& rule(AlertKind kind) const;

  // The group's alerts this detector's call made: their evidence recorded, then passed on.
  void pass_group_alerts();
  void take_group_triggers();

  DetectConfig cfg_;
  Role role_;
  Decay decay_;
  RecordSink& out_;
  EvidenceSink* evidence_ = nullptr;
  Keys<ServerKey, ServerState> servers_;
  Keys<SourceKey, SourceState> sources_;
  Keys<RouteKey, RouteState> routes_;
  Keys<PairKey, PairState> pairs_;
  // This second's distinct (source, target) pairs: hashes stamped with the second, so a new
  // second needs no clearing (an older stamp is an empty cell).
  struct TargetCell {
    uint64_t hash = 0, second = UINT64_MAX;
  };
  std::vector<TargetCell> targets_;
  uint32_t targets_in_second_ = 0;
  uint64_t targets_second_ = UINT64_MAX;
  uint64_t targets_saturated_ = 0;
  SecondSketch sketch_;  // SYNs and UDP probes per source, SYNs per unknown server, this second
  uint32_t source_admission_, server_admission_;

  bool started_ = false;
  uint64_t cur_ = 0;  // the current second
  uint64_t next_second_ns_ = 0;  // where the second after it begins (0 until the first packet)
  uint64_t next_id_ = 0;
  uint64_t fired_ = 0, cleared_ = 0, active_ = 0;

  ScanGroup* group_ = nullptr;
  std::vector<AlertRecord> group_alerts_;
  uint64_t group_triggers_seen_ = 0;
  std::vector<std::pair<std::string, std::string>> group_files_;  // evidence name -> this capture's file
};

}  // namespace podspan
