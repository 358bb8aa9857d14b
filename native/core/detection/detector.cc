#include "detection/detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "analysis/json_records.h"
#include "detection/scan_group.h"

namespace podspan {
namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;
// A second's distinct (source, target) set: two cells per source the table holds, at most 2^17
// (64 Ki targets a second; half the cells may fill, the rest keep probing short).
size_t target_cells(size_t max_sources) {
  size_t n = 16;
  while (n < 2 * max_sources && n < (1u << 17)) n <<= 1;
  return n;
}

uint64_t mix(uint64_t h) {  // MurmurHash3's finaliser
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

uint64_t hash_bytes(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  for (; n >= 8; b += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, b, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, b, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  }
  return mix(h);
}

template <class Key>
uint64_t key_hash(const Key& k) {
  return hash_bytes(&k, sizeof k);
}

void copy_addr(uint8_t* to, const uint8_t* from, uint8_t ip_version) {
  std::memset(to, 0, 16);
  std::memcpy(to, from, ip_version == 6 ? 16 : 4);
}

Detector::ServerKey server_key(uint8_t ip_version, const uint8_t* addr, uint16_t port) {
  Detector::ServerKey k{};
  copy_addr(k.addr, addr, ip_version);
  k.port = port;
  k.ip_version = ip_version;
  return k;
}

Detector::SourceKey source_key(uint8_t ip_version, const uint8_t* addr) {
  Detector::SourceKey k{};
  copy_addr(k.addr, addr, ip_version);
  k.ip_version = ip_version;
  return k;
}

// The (source, destination, port, protocol) a SYN or datagram probes, hashed for the second's set.
uint64_t target_hash(const Decoded& d) {
  struct {
    uint8_t src[16], dst[16];
    uint16_t dport;
    uint8_t proto, ip_version;
  } target{};
  copy_addr(target.src, d.src, d.ip_version);
  copy_addr(target.dst, d.dst, d.ip_version);
  target.dport = d.dport;
  target.proto = d.protocol;
  target.ip_version = d.ip_version;
  return key_hash(target);
}

// A source gets a key only from its admission-th SYN (or UDP probe) of a second on, the sketch
// counting the ones before; once admitted, the admission - 1 probes it did not see are credited
// as distinct targets. A source that never reaches it could not fire anyway (the admission is a
// quarter of the scan floor), and a flood from spoofed addresses makes no keys at all. Servers
// likewise, by SYNs against a quarter of the syn_flood floor, unless already known.
uint32_t admission(double floor) { return std::max<uint32_t>(2, static_cast<uint32_t>(std::ceil(floor / 4))); }

std::string address_text(uint8_t ip_version, const uint8_t* addr) {
  std::string s;
  append_address(s, ip_version, addr);
  return s.substr(1, s.size() - 2);  // without the JSON quotes
}

}  // namespace

bool Detector::ServerKey::operator==(const ServerKey& o) const { return std::memcmp(this, &o, sizeof o) == 0; }
bool Detector::SourceKey::operator==(const SourceKey& o) const { return std::memcmp(this, &o, sizeof o) == 0; }
bool Detector::RouteKey::operator==(const RouteKey& o) const { return std::memcmp(this, &o, sizeof o) == 0; }
bool Detector::PairKey::operator==(const PairKey& o) const { return std::memcmp(this, &o, sizeof o) == 0; }

Detector::Detector(const DetectConfig& config, RecordSink& alerts, Role role)
    : cfg_(config),
      role_(role),
      decay_(config.baseline_halflife_s),
      out_(alerts),
      servers_(config.max_servers),
      sources_(config.max_sources),
      routes_(config.max_routes),
      pairs_(config.max_pairs),
      targets_(target_cells(config.max_sources)),
      sketch_(std::min<size_t>(config.max_sources, 1u << 16)),
      source_admission_(admission(config.port_scan.floor)),
      server_admission_(admission(config.syn_flood.floor)) {}

const DetectRule& Detector::rule(AlertKind kind) const {
  switch (kind) {
    case AlertKind::kSynFlood: return cfg_.syn_flood;
    case AlertKind::kPortScan: return cfg_.port_scan;
    case AlertKind::kRequestSurge: return cfg_.request_surge;
    case AlertKind::kErrorSurge: return cfg_.error_surge;
    case AlertKind::kNoisyClient: return cfg_.noisy_client;
  }
  return cfg_.syn_flood;
}

// ---- the clock: per-second buckets by capture time

void Detector::advance(uint64_t ts) {
  // Before the next second begins (the same second, or time running backwards in merged
  // captures): counted now. No division on this path, which nearly every packet takes.
  if (ts < next_second_ns_) return;
  const uint64_t s = ts / kNsPerSecond;
  next_second_ns_ = (s + 1) * kNsPerSecond;
  if (!started_) {
    started_ = true;
    cur_ = s;
    return;
  }
  close_second(cur_);
  // Seconds without a packet: only alerting keys are listed, and they are judged on silence
  // (which clears them within clear_seconds); idle keys catch up when next touched.
  for (uint64_t g = cur_ + 1; g < s && active_ > 0; ++g) close_second(g);
  cur_ = s;
}

void Detector::advance_idle(uint64_t now) {
  if (started_) advance(now);
  if (group_) {
    group_->advance_idle(now, group_alerts_);
    pass_group_alerts();
  }
}

void Detector::finish() {
  if (group_) {
    group_->leave(group_alerts_);  // the last member out clears the group's alerts still firing
    pass_group_alerts();
    group_ = nullptr;              // finished: no longer a member
  }
  if (!started_) return;
  close_second(cur_);
  // Alerts still firing end with the capture (cleared_by "capture_end"), so every fired line has
  // its cleared line and whoever counts active alerts (metrics, Events) comes back to zero.
  const ClearCause end = ClearCause::kCaptureEnd;
  for (uint32_t slot : servers_.active) clear_alerts(servers_.table.at(slot), end);
  for (uint32_t slot : routes_.active) clear_alerts(routes_.table.at(slot), end);
  for (uint32_t slot : sources_.active) clear_alerts(sources_.table.at(slot), end);
  for (uint32_t slot : pairs_.active) clear_alerts(pairs_.table.at(slot), end);
}

void Detector::clear_alerts(ServerEntry& e, ClearCause cause) {
  const Who who{&e.key, nullptr, nullptr};
  clear_now(AlertKind::kSynFlood, e.value.syn_alert, e.value.syn, who, cause);
  clear_now(AlertKind::kRequestSurge, e.value.req_alert, e.value.req, who, cause);
  clear_now(AlertKind::kErrorSurge, e.value.err_alert, e.value.err, who, cause);
}
void Detector::clear_alerts(RouteEntry& e, ClearCause cause) {
  clear_now(AlertKind::kRequestSurge, e.value.alert, e.value.req, Who{&e.key.server, nullptr, &e.key}, cause);
}
void Detector::clear_alerts(SourceEntry& e, ClearCause cause) {
  clear_now(AlertKind::kPortScan, e.value.alert, e.value.scan, Who{nullptr, &e.key, nullptr}, cause);
}
void Detector::clear_alerts(PairEntry& e, ClearCause cause) {
  clear_now(AlertKind::kNoisyClient, e.value.alert, e.value.share, Who{&e.key.server, &e.key.source, nullptr}, cause);
}

template <class Key, class Value, class OnEvict>
Value& Detector::touch(Keys<Key, Value>& keys, const Key& k, OnEvict&& on_evict, bool* added, bool* first) {
  bool is_new = false;
  const uint32_t slot = keys.table.get(k, key_hash(k), is_new, on_evict);
  Value& v = keys.table.at(slot).value;
  if (keys.listed[slot] != cur_) {
    keys.listed[slot] = cur_;
    keys.active.push_back(slot);  // at most once per slot and second: never past the cap
  }
  if (first) *first = v.second != cur_;
  if (v.second != cur_) {
    v.reset_counts();
    v.second = cur_;
  }
  if (added) *added = is_new;
  return v;
}

Detector::ServerState& Detector::server(const ServerKey& k) {
  bool added = false;
  ServerState& v = touch(servers_, k, [&](auto& e) { clear_alerts(e, ClearCause::kEvicted); }, &added);
  if (added) v.first_second = cur_;
  return v;
}

Detector::SourceState& Detector::source(const SourceKey& k, bool* first) {
  return touch(sources_, k, [&](auto& e) { clear_alerts(e, ClearCause::kEvicted); }, nullptr, first);
}

bool Detector::new_target(uint64_t h) {
  if (targets_second_ != cur_) {
    targets_second_ = cur_;
    targets_in_second_ = 0;
  }
  const size_t cells = targets_.size();
  if (targets_in_second_ >= cells / 2) {
    ++targets_saturated_;
    return true;  // full for this second: counted as distinct (errs towards seeing a scan)
  }
  for (size_t i = h & (cells - 1);; i = (i + 1) & (cells - 1)) {
    TargetCell& c = targets_[i];
    // Cells are only ever filled within a second, so the first cell of another second ends the chain.
    if (c.second != cur_) {
      c.hash = h;
      c.second = cur_;
      ++targets_in_second_;
      return true;
    }
    if (c.hash == h) return false;
  }
}

// ---- events

Detector::SourceState* Detector::probing_source(const Decoded& d) {
  const SourceKey k = source_key(d.ip_version, d.src);
  const uint64_t h = key_hash(k);
  if (sketch_.add(h, cur_) < source_admission_) return nullptr;
  bool first = false;
  SourceState& src = source(k, &first);
  if (first) src.targets += source_admission_ - 1;
  return &src;
}

Detector::~Detector() {
  if (!group_) return;
  std::vector<AlertRecord> lost;  // a capture torn down without finishing: nobody to tell
  group_->leave(lost);
}

void Detector::set_scan_group(ScanGroup* group) {
  group_ = group;
  if (group_) group_->join();
}

void Detector::on_tcp_packet(const Decoded& d, uint64_t ts) {
  advance(ts);
  const uint8_t sa = d.tcp_flags & (kSyn | kAck);
  const bool syn = sa == kSyn, synack = sa == (kSyn | kAck);
  if (syn && role_ == Role::kCapture) count_server_syn(d);
  if (group_) {
    if (syn || synack) group_->on_tcp_packet(d, ts, group_alerts_);
    pass_group_alerts();  // checked on every packet: the group's evidence requests come this way too
  } else if (syn) {
    count_probe(d);
  } else if (synack) {
    count_answer(d);
  }
}

void Detector::count_server_syn(const Decoded& d) {
  // A server known (by an earlier SYN or an HTTP request) counts every SYN; an unknown one gets
  // a key at its admission-th SYN of a second, so a scan of many ports does not churn the table.
  const ServerKey sk = server_key(d.ip_version, d.dst, d.dport);
  const uint64_t sh = key_hash(sk);
  if (servers_.table.find(sk, sh) != KeyTable<ServerKey, ServerState>::kNone) {
    ++server(sk).syns;
  } else if (sketch_.add(sh, cur_) >= server_admission_) {
    server(sk).syns += server_admission_;  // this SYN and the ones the sketch counted
  }
}

void Detector::count_probe(const Decoded& d) {
  if (SourceState* src = probing_source(d)) {
    ++src->syns;
    if (new_target(target_hash(d))) ++src->targets;
  }
}

void Detector::count_answer(const Decoded& d) {
  // Answers a SYN of the receiver: counts for its port_scan share when it is tracked this second.
  const SourceKey k = source_key(d.ip_version, d.dst);
  const uint64_t h = key_hash(k);
  if (sketch_.estimate(h, cur_) < source_admission_) return;
  const uint32_t slot = sources_.table.find(k, h);
  if (slot != KeyTable<SourceKey, SourceState>::kNone) {
    SourceState& v = sources_.table.at(slot).value;
    if (v.second == cur_) ++v.synacks;
  }
}

void Detector::on_handshake(uint8_t ip_version, const uint8_t* addr, uint16_t port, uint64_t ts) {
  advance(ts);
  const ServerKey k = server_key(ip_version, addr, port);
  const uint32_t slot = servers_.table.find(k, key_hash(k));
  if (slot == KeyTable<ServerKey, ServerState>::kNone) return;  // its SYN was not seen
  ServerState& v = servers_.table.at(slot).value;
  if (v.second == cur_) ++v.handshakes;  // a SYN of an earlier second completing now: not counted
}

void Detector::on_udp(const Decoded& d, uint64_t ts) {
  advance(ts);
  // Towards a lower port only: an answer (server port to an ephemeral one) is no probe.
  if (d.dport >= d.sport) return;
  if (group_) {
    group_->on_udp(d, ts, group_alerts_);
    pass_group_alerts();
    return;
  }
  if (SourceState* src = probing_source(d))
    if (new_target(target_hash(d))) ++src->targets;
}

void Detector::on_http(const HttpNumbers& r, std::string_view route) {
  advance(r.ts);
  const ServerKey sk = server_key(r.ends.ip_version, r.ends.server, r.ends.server_port);
  const bool error = r.status >= 500 || r.grpc_status > 0;
  ServerState& srv = server(sk);
  ++srv.requests;
  if (error) ++srv.errors;
  if (!route.empty()) {
    RouteKey rk{};
    rk.server = sk;
    rk.len = static_cast<uint8_t>(std::min(route.size(), kRouteMax));
    std::memcpy(rk.route, route.data(), rk.len);
    ++touch(routes_, rk, [&](auto& e) { clear_alerts(e, ClearCause::kEvicted); }).requests;
  }
  PairKey pk{};
  pk.server = sk;
  pk.source = source_key(r.ends.ip_version, r.ends.client);
  ++touch(pairs_, pk, [&](auto& e) { clear_alerts(e, ClearCause::kEvicted); }).requests;
}

// ---- the end of a second

template <class Key, class Value, class Judge>
void Detector::judge_all(Keys<Key, Value>& keys, uint64_t s, Judge&& judge) {
  size_t keep = 0;
  for (size_t i = 0; i < keys.active.size(); ++i) {
    const uint32_t slot = keys.active[i];
    auto& e = keys.table.at(slot);
    if (e.value.second != s) e.value.reset_counts();  // listed for an alert only: silence this second
    if (judge(e.key, e.value)) {
      keys.active[keep++] = slot;
      keys.listed[slot] = s + 1;
    }
  }
  keys.active.resize(keep);
}

void Detector::close_second(uint64_t s) {
  const uint64_t warm = cfg_.warmup_seconds;
  judge_all(servers_, s, [&](const ServerKey& k, ServerState& v) {
    const Who who{&k, nullptr, nullptr};
    Seen syn;
    syn.rate = v.syns;
    const uint32_t completed = std::min(v.handshakes, v.syns);
    syn.share = v.syns ? static_cast<double>(v.syns - completed) / v.syns : 0;
    syn.condition = syn.share >= cfg_.syn_flood.share;
    judge(AlertKind::kSynFlood, v.syn, v.syn_alert, syn, s, who);
    const bool warmed = s >= v.first_second + warm;
    Seen req;
    req.rate = v.requests;
    req.eligible = warmed;
    judge(AlertKind::kRequestSurge, v.req, v.req_alert, req, s, who);
    Seen err;
    err.rate = v.errors;
    err.share = v.requests ? static_cast<double>(v.errors) / v.requests : 0;
    err.condition = err.share >= cfg_.error_surge.share;
    err.eligible = warmed;
    judge(AlertKind::kErrorSurge, v.err, v.err_alert, err, s, who);
    return v.syn_alert.active() || v.req_alert.active() || v.err_alert.active();
  });
  // Routes and pairs are judged against their server's second: the server's counters are still
  // those of second s (nothing touches them between).
  auto server_of = [&](const ServerKey& k) -> const ServerState* {
    const uint32_t slot = servers_.table.find(k, key_hash(k));
    return slot == KeyTable<ServerKey, ServerState>::kNone ? nullptr : &servers_.table.at(slot).value;
  };
  judge_all(routes_, s, [&](const RouteKey& k, RouteState& v) {
    const ServerState* srv = server_of(k.server);
    Seen req;
    req.rate = v.requests;
    req.eligible = srv && s >= srv->first_second + warm;
    judge(AlertKind::kRequestSurge, v.req, v.alert, req, s, Who{&k.server, nullptr, &k});
    return v.alert.active();
  });
  judge_all(sources_, s, [&](const SourceKey& k, SourceState& v) {
    Seen scan;
    scan.rate = v.targets;
    const uint32_t answered = std::min(v.synacks, v.syns);
    scan.share = v.syns ? 1 - static_cast<double>(answered) / v.syns : 1;  // UDP only: nothing answered
    scan.condition = scan.share >= cfg_.port_scan.share;
    judge(AlertKind::kPortScan, v.scan, v.alert, scan, s, Who{nullptr, &k, nullptr});
    return v.alert.active();
  });
  judge_all(pairs_, s, [&](const PairKey& k, PairState& v) {
    const ServerState* srv = server_of(k.server);
    const uint32_t total = srv && srv->second == s ? srv->requests : 0;
    Seen noisy;
    noisy.rate = total ? static_cast<double>(v.requests) / total : 0;
    noisy.share = noisy.rate;
    noisy.condition = total >= cfg_.noisy_client.floor && noisy.rate >= cfg_.noisy_client.share;
    noisy.eligible = srv && s >= srv->first_second + warm;
    judge(AlertKind::kNoisyClient, v.share, v.alert, noisy, s, Who{&k.server, &k.source, nullptr});
    return v.alert.active();
  });
}

void Detector::judge(AlertKind kind, Baseline& b, AlertState& a, const Seen& seen, uint64_t s, const Who& who) {
  const DetectRule& r = rule(kind);
  b.catch_up(s, decay_);
  const Thresholds th = thresholds(b, r, kind == AlertKind::kNoisyClient);
  const bool over = seen.eligible && seen.condition && seen.rate > th.fire;
  // At or under the clear threshold: silence (rate 0) always is, so an alert clears within
  // clear_seconds of its key going quiet (advance() relies on it).
  const bool below = seen.rate <= th.clear || !seen.condition;
  const bool was_active = a.active();
  switch (step_alert(a, over, below, seen.rate, r)) {
    case AlertStep::kFire:
      a.threshold = th.fire;
      emit(kind, a, b, seen.rate, seen.share, s, ClearCause::kNone, who);
      break;
    case AlertStep::kClear:
      emit(kind, a, b, a.peak, seen.share, s, ClearCause::kQuiet, who);
      a = AlertState{};
      break;
    case AlertStep::kNone: break;
  }
  // The baseline learns normal seconds only: not while alerting, not from a second over the
  // threshold (a flood must not teach the baseline that floods are normal).
  if (!was_active && !a.active() && !over) b.learn(s, seen.rate, decay_);
  else b.skip(s);
}

void Detector::emit(AlertKind kind, AlertState& a, const Baseline& b, double rate, double share, uint64_t s,
                    ClearCause cause, const Who& who) {
  const bool cleared = cause != ClearCause::kNone;
  AlertRecord r;
  r.kind = kind;
  r.id_prefix = role_ == Role::kScanGroup ? 'S' : 'A';
  r.cleared = cleared;
  r.cleared_by = cause;
  r.ts = s * kNsPerSecond;
  if (who.server) {
    r.has_server = true;
    r.ends.ip_version = who.server->ip_version;
    std::memcpy(r.ends.server, who.server->addr, 16);
    r.ends.server_port = who.server->port;
  }
  if (who.source) {
    r.has_source = true;
    r.ends.ip_version = who.source->ip_version;
    std::memcpy(r.ends.client, who.source->addr, 16);
  }
  if (who.route) r.route.assign(who.route->route, who.route->len);
  r.rate = rate;
  r.baseline = b.mean;
  r.threshold = a.threshold;
  r.share = share;
  if (!cleared) {
    a.id = ++next_id_;
    a.started_ns = r.ts;
    r.id = a.id;
    ++fired_;
    ++active_;
    if (evidence_) {
      const std::string id = r.id_prefix + std::to_string(r.id);
      const std::string name = id + "-" + alert_kind_name(kind);
      std::string subject;
      if (who.server) subject += "server " + address_text(who.server->ip_version, who.server->addr) + ":" + std::to_string(who.server->port);
      if (who.route) subject += " route " + r.route;
      if (who.source) subject += std::string(subject.empty() ? "" : " ") + "source " + address_text(who.source->ip_version, who.source->addr);
      char figures[160];
      std::snprintf(figures, sizeof figures, ": rate %.3f %s, baseline %.3f, threshold %.3f", rate, alert_unit(kind), b.mean,
                    a.threshold);
      r.evidence = evidence_->trigger(name, "podspan alert " + id + " " + alert_kind_name(kind) + " " + subject + figures, r.ts);
    }
  } else {
    r.id = a.id;
    r.started = a.started_ns;
    ++cleared_;
    --active_;
  }
  out_.alert(r);
}

// A key evicted while alerting, or the capture's end: its alert clears now (nothing would judge
// it again).
void Detector::clear_now(AlertKind kind, AlertState& a, const Baseline& b, const Who& who, ClearCause cause) {
  if (!a.active()) return;
  emit(kind, a, b, a.peak, -1, cur_, cause, who);
  a = AlertState{};
}

// ---- a session's scan group

void Detector::take_group_triggers() {
  std::vector<ScanGroup::Trigger> triggers;
  group_->triggers_after(group_triggers_seen_, triggers);
  for (const ScanGroup::Trigger& t : triggers) {
    group_triggers_seen_ = t.seq;
    const std::string file = evidence_ ? evidence_->trigger(t.name, t.comment, t.alert_ts) : std::string();
    group_files_.emplace_back(t.name, file);
    if (group_files_.size() > ScanGroup::kKeptTriggers) group_files_.erase(group_files_.begin());
  }
}

void Detector::pass_group_alerts() {
  // Cheap when nothing happened: one atomic load and an empty vector (the common case, per packet).
  if (group_->trigger_count() != group_triggers_seen_) take_group_triggers();
  if (group_alerts_.empty()) return;
  for (AlertRecord& r : group_alerts_) {
    if (!r.cleared) {
      const std::string name = r.id_prefix + std::to_string(r.id) + "-" + alert_kind_name(r.kind);
      for (const auto& f : group_files_)
        if (f.first == name) r.evidence = f.second;
    }
    out_.alert(r);
  }
  group_alerts_.clear();
}

DetectStats Detector::stats() const {
  DetectStats s;
  s.alerts_fired = fired_;
  s.alerts_cleared = cleared_;
  s.active_alerts = active_;
  s.servers = servers_.table.size();
  s.routes = routes_.table.size();
  s.sources = sources_.table.size();
  s.pairs = pairs_.table.size();
  s.evicted_servers = servers_.table.evicted();
  s.evicted_routes = routes_.table.evicted();
  s.evicted_sources = sources_.table.evicted();
  s.evicted_pairs = pairs_.table.evicted();
  s.targets_saturated = targets_saturated_;
  s.reserved_bytes = servers_.table.reserved_bytes() + routes_.table.reserved_bytes() + sources_.table.reserved_bytes() +
                     pairs_.table.reserved_bytes() + targets_.capacity() * sizeof(TargetCell) + sketch_.bytes() +
                     (servers_.listed.capacity() + routes_.listed.capacity() + sources_.listed.capacity() + pairs_.listed.capacity()) * 12;
  return s;
}

}  // namespace podspan
