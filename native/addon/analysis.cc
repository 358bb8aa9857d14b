// Analytics to JavaScript: see analysis.h.
#include "analysis.h"

#include "values.h"

namespace podspan_addon {

std::shared_ptr<podspan::AnalysisConsumer> make_analysis(const Napi::Object& o, bool reading_file) {
  podspan::AnalysisOptions opt;
  parse_json_sink(o, reading_file, opt.analyzer.reassembly, opt.queue);
  return std::make_shared<podspan::AnalysisConsumer>(opt);
}

Napi::Object record_batch_object(Napi::Env env, const podspan::RecordBatch& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("flows", copy_to_buffer(env, b.flows));
  o.Set("http", copy_to_buffer(env, b.http));
  o.Set("dns", copy_to_buffer(env, b.dns));
  o.Set("flowCount", Napi::Number::New(env, static_cast<double>(b.flow_count)));
  o.Set("httpCount", Napi::Number::New(env, static_cast<double>(b.http_count)));
  o.Set("dnsCount", Napi::Number::New(env, static_cast<double>(b.dns_count)));
  return o;
}

Napi::Object analysis_stats_object(Napi::Env env, const podspan::AnalysisStats& s) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  Napi::Object records = Napi::Object::New(env);
  records.Set("flows", num(s.queue.flows));
  records.Set("http", num(s.queue.http));
  records.Set("dns", num(s.queue.dns));
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
  return o;
}

}  // namespace podspan_addon
