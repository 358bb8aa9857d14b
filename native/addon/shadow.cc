// Shadow testing to JavaScript: see shadow.h.
#include "shadow.h"

#include "values.h"

namespace podspan_addon {

std::shared_ptr<podspan::ShadowConsumer> make_shadow(const Napi::Object& o, bool reading_file) {
  podspan::ShadowConsumerOptions opt;
  parse_json_sink(o, reading_file, opt.reassembly, opt.queue);
  podspan::ShadowOptions& x = opt.extractor;
  x.raw = get_string(o, "protocol", "http") == "raw";
  if (o.Get("serverPorts").IsArray()) {
    Napi::Array a = o.Get("serverPorts").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) x.server_ports.push_back(static_cast<uint16_t>(a.Get(i).As<Napi::Number>().Uint32Value()));
  }
  if (o.Get("methods").IsArray()) {
    Napi::Array a = o.Get("methods").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) x.methods.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  x.percent = get_number(o, "percent", x.percent);
  x.max_body_bytes = static_cast<size_t>(get_number(o, "maxBodyBytes", static_cast<double>(x.max_body_bytes)));
  x.max_request_bytes = static_cast<size_t>(get_number(o, "maxRequestBytes", static_cast<double>(x.max_request_bytes)));
  return std::make_shared<podspan::ShadowConsumer>(opt);
}

Napi::Object exchange_batch_object(Napi::Env env, const podspan::ExchangeBatch& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("meta", copy_to_buffer(env, b.meta));
  o.Set("data", copy_to_buffer(env, b.data));
  return o;
}

Napi::Object shadow_stats_object(Napi::Env env, const podspan::ShadowStats& s) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("connections", num(s.extractor.connections));
  o.Set("exchanges", num(s.queue.exchanges));
  Napi::Object skipped = Napi::Object::New(env);
  for (size_t r = 0; r < s.extractor.skipped.size(); ++r) {
    uint64_t n = s.extractor.skipped[r];
    if (static_cast<podspan::SkipReason>(r) == podspan::SkipReason::kQueueFull) n += s.queue.dropped_exchanges;
    if (n > 0) skipped.Set(podspan::skip_reason_name(static_cast<podspan::SkipReason>(r)), num(n));
  }
  o.Set("skipped", skipped);
  o.Set("droppedBatches", num(s.queue.dropped_batches));
  o.Set("batches", num(s.queue.batches));
  o.Set("packets", num(s.pipeline.packets));
  o.Set("streams", num(s.pipeline.reassembly.streams));
  o.Set("gapBytes", num(s.pipeline.reassembly.gap_bytes));
  return o;
}

}  // namespace podspan_addon
