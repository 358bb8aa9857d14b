// Analytics to JavaScript: see analysis.h.
#include "analysis.h"

#include <algorithm>
#include <cstring>

#include "areas.h"
#include "analysis/quantiles.h"
#include "detection/scan_group.h"
#include "values.h"

namespace podspan_addon {
namespace {

// {floor, k, minSeconds, clearSeconds, <share>} of one kind (src/config validated it); a field
// missing keeps the core's default.
void parse_rule(const Napi::Object& detect, const char* kind, const char* share_name, podspan::DetectRule& r) {
  const Napi::Value v = detect.Get(kind);
  if (!v.IsObject()) return;
  const Napi::Object o = v.As<Napi::Object>();
  r.floor = get_number(o, "floor", r.floor);
  r.k = get_number(o, "k", r.k);
  r.min_seconds = static_cast<uint32_t>(get_number(o, "minSeconds", r.min_seconds));
  r.clear_seconds = static_cast<uint32_t>(get_number(o, "clearSeconds", r.clear_seconds));
  if (share_name) r.share = get_number(o, share_name, r.share);
}

void parse_detect(const Napi::Object& d, podspan::DetectConfig& c) {
  c.records = get_bool(d, "records", c.records);
  c.baseline_halflife_s = get_number(d, "baselineHalflifeS", c.baseline_halflife_s);
  c.warmup_seconds = static_cast<uint32_t>(get_number(d, "warmupSeconds", c.warmup_seconds));
  parse_rule(d, "synFlood", "halfOpenShare", c.syn_flood);
  parse_rule(d, "portScan", "rejectedShare", c.port_scan);
  parse_rule(d, "requestSurge", nullptr, c.request_surge);
  parse_rule(d, "errorSurge", "errorShare", c.error_surge);
  parse_rule(d, "noisyClient", "share", c.noisy_client);
  c.max_servers = static_cast<size_t>(get_number(d, "maxServers", static_cast<double>(c.max_servers)));
  c.max_routes = static_cast<size_t>(get_number(d, "maxRoutes", static_cast<double>(c.max_routes)));
  c.max_sources = static_cast<size_t>(get_number(d, "maxSources", static_cast<double>(c.max_sources)));
  c.max_pairs = static_cast<size_t>(get_number(d, "maxPairs", static_cast<double>(c.max_pairs)));
}

// The evidence recorder's sizes (src/config validated them). The ring keeps two seconds more than
// preTriggerSeconds: an alert for a second is raised once that second has ended (a packet of the
// next one, or live a second later still), and its file starts preTriggerSeconds before it.
void parse_evidence(const Napi::Object& e, podspan::EvidenceOptions& opt) {
  constexpr uint64_t kNsPerSecond = 1000000000ull;
  opt.dir = get_string(e, "dir");
  opt.pre_trigger_ns = static_cast<uint64_t>(get_number(e, "preTriggerSeconds", 10) + 2) * kNsPerSecond;
  opt.ring_bytes = static_cast<size_t>(get_number(e, "preTriggerMB", 64)) << 20;
  opt.post_trigger_ns = static_cast<uint64_t>(get_number(e, "postTriggerSeconds", 10)) * kNsPerSecond;
  opt.max_files = static_cast<uint32_t>(get_number(e, "maxFiles", opt.max_files));
  opt.section.userappl = "podspan (detection evidence)";
}

// {alertsFired, alertsCleared, activeAlerts, keys: {servers, routes, sources, pairs}, evicted: {...},
// targetsSaturated}: analysisStats().detect.
Napi::Object detect_stats_object(Napi::Env env, const podspan::DetectStats& d) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object detect = Napi::Object::New(env);
  detect.Set("alertsFired", num(d.alerts_fired));
  detect.Set("alertsCleared", num(d.alerts_cleared));
  detect.Set("activeAlerts", num(d.active_alerts));
  auto per_table = [&](uint64_t servers, uint64_t routes, uint64_t sources, uint64_t pairs) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("servers", num(servers));
    t.Set("routes", num(routes));
    t.Set("sources", num(sources));
    t.Set("pairs", num(pairs));
    return t;
  };
  detect.Set("keys", per_table(d.servers, d.routes, d.sources, d.pairs));
  detect.Set("evicted", per_table(d.evicted_servers, d.evicted_routes, d.evicted_sources, d.evicted_pairs));
  detect.Set("targetsSaturated", num(d.targets_saturated));
  return detect;
}

// NativeScanGroup(detect): one session's port_scan across its captures (detection/scan_group.h),
// handed to each capture as analysis.scanGroup. Tagged, so a capture can tell it from any object.
constexpr napi_type_tag kScanGroupTag = {0x7f3c2a9d51e84b06ull, 0xa4e1c6b2d9f03857ull};

class NativeScanGroup : public Napi::ObjectWrap<NativeScanGroup> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeScanGroup", {});
  }
  explicit NativeScanGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeScanGroup>(info) {
    podspan::DetectConfig config;
    if (info[0].IsObject()) parse_detect(info[0].As<Napi::Object>(), config);
    group_ = std::make_shared<podspan::ScanGroup>(config);
    info.This().As<Napi::Object>().TypeTag(&kScanGroupTag);
  }
  const std::shared_ptr<podspan::ScanGroup>& group() const { return group_; }

 private:
  std::shared_ptr<podspan::ScanGroup> group_;
};

std::shared_ptr<podspan::ScanGroup> scan_group_of(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kScanGroupTag)) return nullptr;
  return NativeScanGroup::Unwrap(v.As<Napi::Object>())->group();
}

}  // namespace

Napi::Function InitScanGroup(Napi::Env env) { return NativeScanGroup::Init(env); }

Napi::Value ValuesAtRanks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // src/analysis/samples.ts checked the arguments: a Float64Array, n within it, ascending ranks below n.
  Napi::Float64Array values = info[0].As<Napi::Float64Array>();
  const size_t n = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  Napi::Array ranks_in = info[2].As<Napi::Array>();
  const uint32_t count = ranks_in.Length();
  if (n > values.ElementLength() || count > 16) throw Napi::RangeError::New(env, "valuesAtRanks: n or ranks out of range");
  size_t ranks[16];
  double out[16];
  for (uint32_t i = 0; i < count; ++i) {
    ranks[i] = static_cast<size_t>(ranks_in.Get(i).As<Napi::Number>().Int64Value());
    if (ranks[i] >= n || (i > 0 && ranks[i] < ranks[i - 1])) throw Napi::RangeError::New(env, "valuesAtRanks: ranks not ascending below n");
  }
  podspan::values_at_ranks(values.Data(), n, ranks, count, out);
  Napi::Array result = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; ++i) result.Set(i, Napi::Number::New(env, out[i]));
  return result;
}

std::shared_ptr<podspan::AnalysisConsumer> make_analysis(const Napi::Object& o, bool reading_file) {
  podspan::AnalysisOptions opt;
  parse_json_sink(o, reading_file, opt.analyzer.reassembly, opt.queue);
  opt.app = !get_bool(o, "connectionsOnly", false);
  const Napi::Value detect = o.Get("detect");
  if (detect.IsObject()) {
    opt.detect = true;
    parse_detect(detect.As<Napi::Object>(), opt.detect_config);
    opt.scan_group = scan_group_of(o.Get("scanGroup"));
    const Napi::Value evidence = o.Get("evidence");
    if (evidence.IsObject()) {
      opt.evidence = true;
      parse_evidence(evidence.As<Napi::Object>(), opt.evidence_options);
    }
  }
  return std::make_shared<podspan::AnalysisConsumer>(opt);
}

Napi::Object record_batch_object(Napi::Env env, const podspan::RecordBatch& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("flows", copy_to_buffer(env, b.flows));
  o.Set("http", copy_to_buffer(env, b.http));
  o.Set("dns", copy_to_buffer(env, b.dns));
  o.Set("alerts", copy_to_buffer(env, b.alerts));
  o.Set("flowRows", copy_to_buffer(env, b.flow_rows));
  o.Set("httpRows", copy_to_buffer(env, b.http_rows));
  o.Set("dnsRows", copy_to_buffer(env, b.dns_rows));
  o.Set("flowCount", Napi::Number::New(env, static_cast<double>(b.flow_count)));
  o.Set("httpCount", Napi::Number::New(env, static_cast<double>(b.http_count)));
  o.Set("dnsCount", Napi::Number::New(env, static_cast<double>(b.dns_count)));
  o.Set("alertCount", Napi::Number::New(env, static_cast<double>(b.alert_count)));
  return o;
}

namespace {

// A sink over the Buffer JavaScript keeps as scratch[key]: written in place; when it must grow,
// a larger Buffer takes its place there (the old one stays alive, held by scratch, until the
// bytes to keep are copied out of it).
class ScratchBufferSink final : public podspan::ByteSink {
 public:
  ScratchBufferSink(Napi::Env env, Napi::Object scratch, const char* key) : env_(env), scratch_(scratch), key_(key) {
    const Napi::Value v = scratch.Get(key);
    if (!v.IsBuffer()) return;
    const auto b = v.As<Napi::Buffer<char>>();
    data_ = b.Data();
    capacity_ = b.Length();
  }

 private:
  void grow(size_t capacity, size_t keep) override {
    const size_t size = std::max({capacity, 2 * capacity_, size_t{64} << 10});
    Napi::Buffer<char> b = Napi::Buffer<char>::New(env_, size);
    if (keep) std::memcpy(b.Data(), data_, keep);
    scratch_.Set(key_, b);
    data_ = b.Data();
    capacity_ = size;
  }

  Napi::Env env_;
  Napi::Object scratch_;
  const char* key_;
};

}  // namespace

Napi::Value take_records_into(Napi::Env env, podspan::AnalysisConsumer& analysis, Napi::Object scratch) {
  ScratchBufferSink flows(env, scratch, "flows"), http(env, scratch, "http"), dns(env, scratch, "dns"),
      alerts(env, scratch, "alerts"), flow_rows(env, scratch, "flowRows"), http_rows(env, scratch, "httpRows"),
      dns_rows(env, scratch, "dnsRows");
  podspan::RecordSinks sinks{flows, http, dns, alerts, flow_rows, http_rows, dns_rows};
  podspan::RecordBatch::Counts counts{};
  if (!analysis.take(sinks, counts)) return env.Null();
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("flows", num(flows.size()));
  o.Set("http", num(http.size()));
  o.Set("dns", num(dns.size()));
  o.Set("alerts", num(alerts.size()));
  o.Set("flowRows", num(flow_rows.size()));
  o.Set("httpRows", num(http_rows.size()));
  o.Set("dnsRows", num(dns_rows.size()));
  o.Set("flowCount", num(counts.flows));
  o.Set("httpCount", num(counts.http));
  o.Set("dnsCount", num(counts.dns));
  o.Set("alertCount", num(counts.alerts));
  return o;
}

Napi::Object analysis_stats_object(Napi::Env env, const podspan::AnalysisStats& s) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  Napi::Object records = Napi::Object::New(env);
  records.Set("flows", num(s.queue.flows));
  records.Set("http", num(s.queue.http));
  records.Set("dns", num(s.queue.dns));
  records.Set("alerts", num(s.queue.alerts));
  o.Set("records", records);
  o.Set("batches", num(s.queue.batches));
  o.Set("droppedRecords", num(s.queue.dropped_records));
  o.Set("app", Napi::Boolean::New(env, s.app));
  Napi::Object app = Napi::Object::New(env);
  for (const auto& c : s.app_counters) app.Set(c.first, num(c.second));
  o.Set("appCounters", app);
  o.Set("packets", num(s.analyzer.packets));
  o.Set("tcpPackets", num(s.analyzer.tcp_packets));
  o.Set("udpDnsDatagrams", num(s.analyzer.udp_dns_datagrams));
  o.Set("streams", num(s.analyzer.reassembly.streams));
  o.Set("gapBytes", num(s.analyzer.reassembly.gap_bytes));
  if (s.detect) o.Set("detect", detect_stats_object(env, s.detect_stats));
  if (s.evidence) {
    const podspan::EvidenceStats& e = s.evidence_stats;
    Napi::Object ev = Napi::Object::New(env);
    ev.Set("ringPackets", num(e.ring_packets));
    ev.Set("ringBytes", num(e.ring_bytes));
    ev.Set("ringOverwritten", num(e.ring_overwritten));
    ev.Set("ringSpanNs", num(e.ring_span_ns));
    ev.Set("files", num(e.files));
    ev.Set("refused", num(e.refused));
    ev.Set("failed", num(e.failed));
    ev.Set("packetsWritten", num(e.packets_written));
    ev.Set("bytesWritten", num(e.bytes_written));
    ev.Set("truncatedFiles", num(e.truncated_files));
    ev.Set("writeErrors", num(e.write_errors));
    o.Set("evidence", ev);
  }
  return o;
}

}  // namespace podspan_addon
