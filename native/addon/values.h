// Reading option objects handed over from JavaScript. src/ validated them already (config and
// CLI); these only convert, with the defaults the core would use.
#pragma once

#include <napi.h>

#include <string>

#include "pcap/file_writer.h"
#include "reassembly/reassembly.h"

namespace podspan_addon {

inline std::string get_string(const Napi::Object& o, const char* key, const std::string& dflt = "") {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
}
inline double get_number(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}
inline bool get_bool(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

// A native string's bytes as a JavaScript Buffer of its own (a batch's JSON lines or data).
inline Napi::Buffer<uint8_t> copy_to_buffer(Napi::Env env, const std::string& s) {
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline podspan::FileFormat parse_format(const std::string& f) {
  if (f == "pcapng") return podspan::FileFormat::kPcapng;
  if (f == "pcap-ns") return podspan::FileFormat::kPcapNs;
  return podspan::FileFormat::kPcap;
}

inline void parse_flow_limits(const Napi::Object& so, podspan::ReassemblyConfig& r) {
  r.max_flows = static_cast<size_t>(get_number(so, "maxFlows", static_cast<double>(r.max_flows)));
  r.idle_timeout_ns = static_cast<uint64_t>(get_number(so, "idleTimeoutSeconds", 120) * 1e9);
}

// {maxFlows?, flowTimeoutSeconds?, maxBytes?, queueBatches?, flushMs?} of a sink that hands JSON
// batches to JS (analysis, shadow): its flow limits and its queue's options (RecordQueueOptions,
// ExchangeQueueOptions); a file waits for JS, live capture never blocks.
template <class QueueOptions>
void parse_json_sink(const Napi::Object& o, bool reading_file, podspan::ReassemblyConfig& r, QueueOptions& q) {
  r.max_flows = static_cast<size_t>(get_number(o, "maxFlows", static_cast<double>(r.max_flows)));
  r.idle_timeout_ns = static_cast<uint64_t>(get_number(o, "flowTimeoutSeconds", 120) * 1e9);
  q.wait_for_room = reading_file;
  q.batch_max_bytes = static_cast<size_t>(get_number(o, "maxBytes", static_cast<double>(q.batch_max_bytes)));
  q.queue_max_batches = static_cast<size_t>(get_number(o, "queueBatches", static_cast<double>(q.queue_max_batches)));
  q.flush_ms = static_cast<uint32_t>(get_number(o, "flushMs", q.flush_ms));
}

// A collector file's writer options: path, -C/-G/-W, and what a collector needs that a capture
// does not (see WriterOptions): -G by its own clock, interfaces written into a file only when
// used there, files never truncated, a smaller buffer (one per agent).
inline podspan::WriterOptions collector_writer_options(const Napi::Object& w) {
  podspan::WriterOptions opt;
  opt.path = get_string(w, "path");
  opt.rotation.max_bytes = static_cast<uint64_t>(get_number(w, "rotateBytes", 0));
  opt.rotation.seconds = static_cast<uint32_t>(get_number(w, "rotateSeconds", 0));
  opt.rotation.max_files = static_cast<uint32_t>(get_number(w, "rotateFiles", 0));
  opt.rotation.seconds_by_wall_clock = get_bool(w, "rotateByClock", false);
  opt.interfaces_on_first_use = get_bool(w, "interfacesOnFirstUse", false);
  opt.exclusive = get_bool(w, "exclusive", false);
  opt.direct_io = get_bool(w, "directIo", false);
  opt.buffer_bytes = static_cast<size_t>(get_number(w, "bufferBytes", static_cast<double>(opt.buffer_bytes)));
  return opt;
}

}  // namespace podspan_addon
