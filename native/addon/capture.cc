// NativeCapture: a capture session (live interfaces or a file) with its native sinks (files,
// stream files, stream events, encapsulated mirrors) and the bounded batch queue JavaScript drains.
#include "areas.h"

#include "analysis.h"
#include "shadow.h"
#include <atomic>
#include <cstring>
#include <memory>

#include "capture/capture_session.h"
#include "forward/columnar.h"
#include "forward/frame_message.h"
#include "forward/encap_sender.h"
#include "js_errors.h"
#include "lent_frames.h"
#include "reassembly/stream_events.h"
#include "reassembly/stream_files.h"
#include "values.h"

namespace {

using podspan::CaptureError;
using podspan_addon::coded_error;
using podspan_addon::throw_capture_error;
using namespace podspan_addon;

using podspan::CaptureOptions;
using podspan::CaptureSession;

// How far behind the reader a file's pages may be unmapped while analytics runs: past the
// pipeline's look-ahead and what reassembly holds of a stalled connection in nearly every case.
constexpr size_t kReleaseLag = 32u << 20;
// How far ahead of it they are mapped in: several batches' worth (analytics takes one every
// 4-8 MB of HTTP), so the reader rarely reaches a page before it is mapped.
constexpr size_t kMapAhead = 32u << 20;

struct Sinks {
  std::shared_ptr<podspan::StreamFiles> streams;
  std::shared_ptr<podspan::StreamEventQueue> events;
  std::shared_ptr<podspan::AnalysisConsumer> analysis;
  std::shared_ptr<podspan::ShadowConsumer> shadow;
  std::vector<std::shared_ptr<podspan::EncapSender>> vxlan;
  std::shared_ptr<podspan::BatchStoragePool> batch_storage;  // batches: storage of lent frames, back
};

podspan::EncapOptions parse_vxlan(const Napi::Object& t, bool reading_file, bool egress_capture) {
  podspan::EncapOptions v;
  v.host = get_string(t, "host");
  v.port = static_cast<uint16_t>(get_number(t, "port", v.port));
  const std::string encap = get_string(t, "encap");
  v.header.kind = encap == "geneve"                      ? podspan::Encapsulation::kGeneve
                  : encap == "gre"                       ? podspan::Encapsulation::kGre
                  : encap == "erspan" && get_number(t, "version", 2) == 3 ? podspan::Encapsulation::kErspan3
                  : encap == "erspan"                    ? podspan::Encapsulation::kErspan2
                                                         : podspan::Encapsulation::kVxlan;
  v.header.erspan_session = static_cast<uint16_t>(get_number(t, "erspanSession", 0));
  v.header.erspan_hwid = static_cast<uint8_t>(get_number(t, "hwid", 0));
  v.egress_capture = egress_capture;
  v.header.vni = static_cast<uint32_t>(get_number(t, "vni", 0));
  v.header.podspan_option = t.Get("session").IsNumber();  // GENEVE: the session/interface TLV
  v.header.session = static_cast<uint32_t>(get_number(t, "session", 0));
  v.header.gre_key = t.Get("key").IsNumber();  // GRE: the K flag and key
  v.header.key = static_cast<uint32_t>(get_number(t, "key", 0));
  v.header.gre_sequence = get_bool(t, "sequence", false);
  v.truncate = static_cast<uint32_t>(get_number(t, "truncate", 0));
  v.mtu = static_cast<uint32_t>(get_number(t, "mtu", v.mtu));
  v.oversize = get_string(t, "oversize") == "truncate" ? podspan::OversizePolicy::kTruncate : podspan::OversizePolicy::kFragment;
  v.source_ports = static_cast<uint32_t>(get_number(t, "sourcePorts", v.source_ports));
  v.block_when_full = reading_file;
  return v;
}

CaptureOptions parse_options(const Napi::Object& o, Sinks& sinks) {
  CaptureOptions opt;
  if (o.Get("interfaces").IsArray()) {
    Napi::Array a = o.Get("interfaces").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) opt.interfaces.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  opt.read_path = get_string(o, "readPath");
  if (o.Get("moreReadPaths").IsArray()) {
    Napi::Array a = o.Get("moreReadPaths").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) opt.more_read_paths.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  opt.filter = get_string(o, "filter");
  opt.sampled_filter = get_string(o, "sampledFilter");
  opt.interface_description = get_string(o, "interfaceDescription");
  opt.snaplen = static_cast<int>(get_number(o, "snaplen", opt.snaplen));
  opt.promisc = get_bool(o, "promisc", opt.promisc);
  opt.immediate = get_bool(o, "immediate", opt.immediate);
  opt.buffer_kib = static_cast<int>(get_number(o, "bufferKiB", 0));
  opt.timeout_ms = static_cast<int>(get_number(o, "timeoutMs", opt.timeout_ms));
  opt.count = static_cast<uint64_t>(get_number(o, "count", 0));
  opt.direction = get_string(o, "direction");
  opt.any_cooked_v2 = get_bool(o, "anyCookedV2", false);
  opt.link_type = static_cast<int>(get_number(o, "linkType", -1));
  opt.timestamp_type = static_cast<int>(get_number(o, "timeStampType", -1));
  opt.flush_per_block = get_bool(o, "flushPerBlock", false);
  opt.flush_per_packet = get_bool(o, "flushPerPacket", false);
  if (o.Get("output").IsObject()) {
    Napi::Object w = o.Get("output").As<Napi::Object>();
    opt.write_file = true;
    opt.writer.path = get_string(w, "path");
    opt.writer.format = parse_format(get_string(w, "format"));
    opt.writer.rotation.max_bytes = static_cast<uint64_t>(get_number(w, "rotateBytes", 0));
    opt.writer.rotation.seconds = static_cast<uint32_t>(get_number(w, "rotateSeconds", 0));
    opt.writer.rotation.max_files = static_cast<uint32_t>(get_number(w, "rotateFiles", 0));
    opt.writer.strftime_names = get_bool(w, "strftimeNames", false);
    opt.writer.list_rotated = get_bool(w, "listRotated", false);
    opt.writer.buffer_bytes = static_cast<size_t>(get_number(w, "bufferBytes", 1 << 20));
    opt.writer.section.userappl = get_string(w, "application", "podspan");
  }
  if (o.Get("streams").IsObject()) {
    Napi::Object so = o.Get("streams").As<Napi::Object>();
    podspan::StreamFilesOptions sf;
    sf.dir = get_string(so, "dir");
    parse_flow_limits(so, sf.reassembly);
    sf.max_direction_bytes = static_cast<uint64_t>(get_number(so, "maxDirectionBytes", 0));
    sinks.streams = std::make_shared<podspan::StreamFiles>(sf);
    opt.consumers.push_back(sinks.streams);
  } else if (o.Get("streamEvents").IsObject()) {
    Napi::Object so = o.Get("streamEvents").As<Napi::Object>();
    podspan::StreamEventOptions eo;
    parse_flow_limits(so, eo.reassembly);
    eo.wait_for_room = !opt.read_path.empty();  // a file waits for JS; live capture never blocks
    eo.batch_max_bytes = static_cast<size_t>(get_number(so, "maxBytes", static_cast<double>(eo.batch_max_bytes)));
    eo.batch_max_events = static_cast<size_t>(get_number(so, "maxEvents", static_cast<double>(eo.batch_max_events)));
    eo.queue_max_batches = static_cast<size_t>(get_number(so, "queueBatches", static_cast<double>(eo.queue_max_batches)));
    eo.flush_ms = static_cast<uint32_t>(get_number(so, "flushMs", eo.flush_ms));
    eo.payload_as_text = get_bool(so, "payloadAsText", false);
    eo.max_direction_bytes = static_cast<uint64_t>(get_number(so, "maxDirectionBytes", 0));
    sinks.events = std::make_shared<podspan::StreamEventQueue>(eo);
    opt.consumers.push_back(sinks.events);
  }
  if (o.Get("analysis").IsObject()) {
    sinks.analysis = make_analysis(o.Get("analysis").As<Napi::Object>(), !opt.read_path.empty());
    opt.consumers.push_back(sinks.analysis);
  }
  if (o.Get("shadow").IsObject()) {
    sinks.shadow = make_shadow(o.Get("shadow").As<Napi::Object>(), !opt.read_path.empty());
    opt.consumers.push_back(sinks.shadow);
  }
  if (o.Get("vxlan").IsArray()) {
    Napi::Array a = o.Get("vxlan").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      sinks.vxlan.push_back(std::make_shared<podspan::EncapSender>(parse_vxlan(a.Get(i).As<Napi::Object>(), !opt.read_path.empty(), opt.direction == "out")));
      opt.consumers.push_back(sinks.vxlan.back());
    }
  }
  if (o.Get("batches").IsObject()) {
    Napi::Object b = o.Get("batches").As<Napi::Object>();
    opt.deliver_batches = true;
    opt.batch_max_packets = static_cast<size_t>(get_number(b, "maxPackets", 4096));
    opt.batch_max_bytes = static_cast<size_t>(get_number(b, "maxBytes", 1 << 20));
    opt.batch_flush_ms = static_cast<uint32_t>(get_number(b, "flushMs", 100));
    opt.queue_max_batches = static_cast<size_t>(get_number(b, "queueBatches", 16));
    // as many kept as the queue holds batches: what the capture would keep as spares anyway
    sinks.batch_storage = opt.batch_storage = std::make_shared<podspan::BatchStoragePool>(opt.queue_max_batches);
  }
  return opt;
}

Napi::Object stats_object(Napi::Env env, const podspan::InterfaceStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", Napi::Number::New(env, static_cast<double>(s.received)));
  o.Set("droppedKernel", Napi::Number::New(env, static_cast<double>(s.dropped_kernel)));
  o.Set("droppedInterface", Napi::Number::New(env, static_cast<double>(s.dropped_iface)));
  o.Set("captured", Napi::Number::New(env, static_cast<double>(s.captured)));
  o.Set("capturedBytes", Napi::Number::New(env, static_cast<double>(s.captured_bytes)));
  o.Set("droppedQueue", Napi::Number::New(env, static_cast<double>(s.dropped_queue)));
  o.Set("sampledOut", Napi::Number::New(env, static_cast<double>(s.sampled_out)));
  return o;
}

class NativeCapture : public Napi::ObjectWrap<NativeCapture> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeCapture",
                       {InstanceMethod("start", &NativeCapture::Start),
                        InstanceMethod("stop", &NativeCapture::Stop),
                        InstanceMethod("abandonStreamWrites", &NativeCapture::AbandonStreamWrites),
                        InstanceMethod("takeBatch", &NativeCapture::TakeBatch),
                        InstanceMethod("takeStreamEvents", &NativeCapture::TakeStreamEvents),
                        InstanceMethod("takeMessages", &NativeCapture::TakeMessages),
                        InstanceMethod("takeRecords", &NativeCapture::TakeRecords),
                        InstanceMethod("analysisStats", &NativeCapture::GetAnalysisStats),
                        InstanceMethod("takeExchanges", &NativeCapture::TakeExchanges),
                        InstanceMethod("shadowStats", &NativeCapture::GetShadowStats),
                        InstanceMethod("stats", &NativeCapture::Stats),
                        InstanceMethod("interfaces", &NativeCapture::Interfaces),
                        InstanceMethod("warnings", &NativeCapture::Warnings),
                        InstanceMethod("result", &NativeCapture::Result),
                        InstanceMethod("takeRotatedFiles", &NativeCapture::TakeRotatedFiles),
                        InstanceMethod("streamStats", &NativeCapture::StreamStats),
                        InstanceMethod("forwardStats", &NativeCapture::ForwardStats),
                        InstanceMethod("open", &NativeCapture::Open),
                        InstanceMethod("close", &NativeCapture::Close)});
  }

  // new NativeCapture(options): opens at once, on the calling thread. With a second argument
  // {deferOpen: true} nothing is opened until open(callback), which does it on a worker thread.
  explicit NativeCapture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeCapture>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options object expected");
    const bool defer = info.Length() > 1 && info[1].IsObject() && get_bool(info[1].As<Napi::Object>(), "deferOpen", false);
    try {
      CaptureOptions options = parse_options(info[0].As<Napi::Object>(), sinks_);
      if (defer) {
        deferred_ = std::make_unique<CaptureOptions>(std::move(options));
      } else {
        session_ = std::make_unique<CaptureSession>(std::move(options));
      }
    } catch (const CaptureError& e) {
      throw_capture_error(env, e);
    }
  }

  ~NativeCapture() override { shutdown(); }

 private:
  // Opening a session activates its interfaces and compiles its filter with libpcap, whose
  // compile time grows steeply with the filter (hundreds of ports: seconds to minutes). Done
  // on a libuv worker so the event loop (metrics, /healthz, other sessions) keeps running.
  // The JS object stays referenced (receiver) until the callback ran.
  class OpenWorker : public Napi::AsyncWorker {
   public:
    OpenWorker(NativeCapture& owner, const Napi::Object& receiver, const Napi::Function& callback,
               std::unique_ptr<CaptureOptions> options)
        : Napi::AsyncWorker(receiver, callback, "podspan-open"), owner_(owner), options_(std::move(options)) {}

    void Execute() override {
      try {
        session_ = std::make_unique<CaptureSession>(std::move(*options_));
      } catch (const CaptureError& e) {
        kind_ = e.kind();
        message_ = e.what();
      } catch (const std::exception& e) {
        kind_ = podspan::ErrorKind::kInternal;
        message_ = e.what();
      }
    }

    void OnOK() override {
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      if (!session_) {
        Callback().Call(Receiver().Value(), {coded_error(env, podspan::error_code(kind_), message_).Value()});
        return;
      }
      if (!owner_.closed_) owner_.session_ = std::move(session_);
      session_.reset();  // closed while opening: nobody will start it
      Callback().Call(Receiver().Value(), {env.Null()});
    }

   private:
    NativeCapture& owner_;
    std::unique_ptr<CaptureOptions> options_;
    std::unique_ptr<CaptureSession> session_;
    podspan::ErrorKind kind_ = podspan::ErrorKind::kInternal;
    std::string message_;
  };

  // open(callback): callback(error | null) on the event loop once the session is open.
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!deferred_) throw Napi::Error::New(env, "open() needs a capture made with {deferOpen: true}, once");
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "callback expected");
    (new OpenWorker(*this, info.This().As<Napi::Object>(), info[0].As<Napi::Function>(), std::move(deferred_)))->Queue();
    return env.Undefined();
  }

  // start(onEvent): onEvent("batch") when batches wait in the queue, onEvent("done") once.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!session_ || started_) throw Napi::Error::New(env, "capture already started or closed");
    started_ = true;
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "podspan-capture", 0, 1);
    auto notify = [this](const char* kind) {
      tsfn_.BlockingCall([kind](Napi::Env env, Napi::Function fn) { fn.Call({Napi::String::New(env, kind)}); });
    };
    // One pending wake-up at a time: JS drains every ready batch when it runs.
    auto wake = [this] {
      if (!batch_signal_pending_.exchange(true)) {
        tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function fn) {
          batch_signal_pending_ = false;
          fn.Call({Napi::String::New(env, "batch")});
        });
      }
    };
    if (sinks_.events) sinks_.events->set_on_ready(wake);
    if (sinks_.analysis) sinks_.analysis->set_on_ready(wake);
    if (sinks_.shadow) sinks_.shadow->set_on_ready(wake);
    session_->start(
        wake,
        [this, notify] {
          notify("done");
          tsfn_.Release();
        });
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (session_) session_->stop();
    return info.Env().Undefined();
  }

  // Stream files still queued are not written (the index says so); see StreamFiles::abandon.
  Napi::Value AbandonStreamWrites(const Napi::CallbackInfo& info) {
    if (sinks_.streams) sinks_.streams->abandon();
    return info.Env().Undefined();
  }

  // Returns {data, records, count} (data: packet bytes back to back; records: 32 bytes each,
  // see PacketRecord) or null when no batch is ready. One copy per batch, none per packet.
  Napi::Value TakeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!session_ || !session_->take_batch(batch_)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, batch_.data.data(), batch_.used));
    o.Set("records", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(batch_.records.data()),
                                                 batch_.records.size() * sizeof(podspan::PacketRecord)));
    o.Set("count", Napi::Number::New(env, static_cast<double>(batch_.records.size())));
    return o;
  }

  // Returns {events, data, count} (events: 40-byte StreamEventRecords; data: payload and open
  // blocks they point into) or null when none is ready. One copy per batch.
  Napi::Value TakeStreamEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sinks_.events || !sinks_.events->take(event_batch_)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("events", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(event_batch_.events.data()),
                                                event_batch_.events.size() * sizeof(podspan::StreamEventRecord)));
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, event_batch_.data.data(), event_batch_.data.size()));
    o.Set("count", Napi::Number::New(env, static_cast<double>(event_batch_.events.size())));
    return o;
  }

  // Returns {flows, http, dns} (Buffers of JSON lines, see analysis.h) or null when none is ready;
  // takeRecords(scratch): the batch written into scratch's Buffers (take_records_into).
  Napi::Value TakeRecords(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    // Analytics keeps the reader's thread busy and leaves this one time: the file read behind
    // it is unmapped from here, not all at close (after the work, with the other core idle),
    // and what it reads next is mapped in from here, not by its page faults.
    if (session_) session_->tend_read_input(kReleaseLag, kMapAhead);
    if (!sinks_.analysis) return env.Null();
    if (info.Length() > 0 && info[0].IsObject()) return take_records_into(env, *sinks_.analysis, info[0].As<Napi::Object>());
    if (!sinks_.analysis->take(record_batch_)) return env.Null();
    return record_batch_object(env, record_batch_);
  }

  // Analytics counters, or null without the analysis sink.
  Napi::Value GetAnalysisStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sinks_.analysis) return env.Null();
    return analysis_stats_object(env, sinks_.analysis->stats());
  }

  // Returns {meta, data} (see shadow.h) or null when no exchange batch is ready.
  Napi::Value TakeExchanges(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sinks_.shadow || !sinks_.shadow->take(exchange_batch_)) return env.Null();
    return exchange_batch_object(env, exchange_batch_);
  }

  // Shadow-testing counters, or null without the shadow sink.
  Napi::Value GetShadowStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sinks_.shadow) return env.Null();
    return shadow_stats_object(env, sinks_.shadow->stats());
  }

  // takeMessages(targets, upMask, head, headSources): the next batch split over `targets`
  // collectors by flow (only those set in upMask), each share as a FrameBatch message written
  // into a Buffer of its own (forward/frame_message.h): head (the encoded agent and sources),
  // the frames and the packed columns, then kFrameBatchTailRoom bytes for the sequence and drops
  // the sender adds. Returns {count, unrouted, parts: [{message, used, count, moved}]} (used:
  // bytes written; message: null for a collector with no frames), or null when no batch is ready,
  // or, when the session has another number of interfaces than `headSources`, that number: the
  // batch is kept for the next call, with a head that has a source for each interface.
  // spares (optional): per collector, a Buffer a message sent before was in; the message is
  // written into it (and it is returned as the message) when it fits and is at least half used,
  // so that steady forwarding allocates no new memory for its messages.
  // When every frame goes to one collector and the frames lie back to back in the batch (live
  // capture, pcap files; not pcapng packets with options), they are not copied: that part has
  // `frames`, a Buffer lent over the batch's own storage (lent_frames.h; hand it back with
  // releaseFrames once written), and `framesAt`: the message is message[0, framesAt), frames,
  // then message[framesAt, used) and its tail. Only when they fill at least half of that storage,
  // so that the forwarder's byte-bounded queue, which counts the frames' bytes, bounds the memory.
  Napi::Value TakeMessages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!session_) return env.Null();
    if (!holding_batch_ && !session_->take_batch(batch_)) return env.Null();
    holding_batch_ = true;
    const uint32_t targets = info[0].As<Napi::Number>().Uint32Value();
    const uint64_t up = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    const auto head = info[2].As<Napi::Buffer<uint8_t>>();
    const uint32_t head_sources = info[3].As<Napi::Number>().Uint32Value();
    const Napi::Value spares = info[4];
    const auto interfaces = session_->interfaces();
    if (interfaces.size() != head_sources) return Napi::Number::New(env, static_cast<double>(interfaces.size()));
    holding_batch_ = false;
    std::vector<uint16_t> linktypes;
    for (const auto& i : interfaces) linktypes.push_back(i.linktype);
    podspan::plan_split(batch_, linktypes, targets, up, plan_);
    const int64_t in_place = frames_lent_to(targets);
    Napi::Array parts = Napi::Array::New(env, targets);
    std::vector<uint8_t*> out(targets, nullptr);
    for (uint32_t t = 0; t < targets; ++t) {
      Napi::Object o = Napi::Object::New(env);
      size_t used = plan_.frames[t] ? podspan::frame_message_body_size(head.Length(), plan_.frames[t], plan_.bytes[t]) : 0;
      if (t == in_place) used -= batch_.used;
      if (used) {
        const size_t size = used + podspan::kFrameBatchTailRoom;
        Napi::Value spare = spares.IsArray() ? spares.As<Napi::Array>().Get(t) : env.Undefined();
        Napi::Buffer<uint8_t> message;
        if (spare.IsBuffer() && spare.As<Napi::Buffer<uint8_t>>().Length() >= size && spare.As<Napi::Buffer<uint8_t>>().Length() / 2 <= size) {
          message = spare.As<Napi::Buffer<uint8_t>>();
        } else {
          // Node's own (uncleared) memory, which JS then owns: no copy on the way to grpc-js
          message = Napi::Buffer<uint8_t>::New(env, size);
        }
        out[t] = message.Data();
        o.Set("message", message);
      } else {
        o.Set("message", env.Null());
      }
      o.Set("used", Napi::Number::New(env, static_cast<double>(used)));
      o.Set("count", Napi::Number::New(env, static_cast<double>(plan_.frames[t])));
      o.Set("moved", Napi::Number::New(env, static_cast<double>(plan_.moved[t])));
      parts.Set(t, o);
    }
    if (in_place >= 0) {
      podspan::write_frame_message_around(batch_, head.Data(), head.Length(), out[in_place]);
      Napi::Object part = parts.Get(static_cast<uint32_t>(in_place)).As<Napi::Object>();
      part.Set("framesAt", Napi::Number::New(env, static_cast<double>(podspan::frame_message_lead_size(head.Length(), batch_.used))));
      // back once written (releaseFrames), to the capture's next batches (BatchStoragePool)
      part.Set("frames", lend_frames(env, std::move(batch_.data), batch_.used, sinks_.batch_storage));
    } else {
      podspan::write_frame_messages(batch_, plan_, head.Data(), head.Length(), out.data());
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", Napi::Number::New(env, static_cast<double>(batch_.records.size())));
    o.Set("unrouted", Napi::Number::New(env, static_cast<double>(plan_.unrouted)));
    o.Set("parts", parts);
    return o;
  }

  // The collector all of batch_'s frames go to when they can be lent in place (see
  // TakeMessages), else -1.
  int64_t frames_lent_to(uint32_t targets) const {
    if (!sinks_.batch_storage || plan_.unrouted || !batch_.used || batch_.used * 2 < batch_.data.capacity() || !podspan::frames_in_place(batch_)) return -1;
    for (uint32_t t = 0; t < targets; ++t)
      if (plan_.frames[t] == batch_.records.size()) return t;
    return -1;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!session_) return out;
    auto stats = session_->stats();
    for (size_t i = 0; i < stats.size(); ++i) out.Set(static_cast<uint32_t>(i), stats_object(env, stats[i]));
    return out;
  }

  Napi::Value Interfaces(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!session_) return out;
    auto ifs = session_->interfaces();
    for (size_t i = 0; i < ifs.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", ifs[i].name);
      o.Set("description", ifs[i].description);
      o.Set("linktype", Napi::Number::New(env, ifs[i].linktype));
      o.Set("snaplen", Napi::Number::New(env, ifs[i].snaplen));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

  Napi::Value Warnings(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!session_) return out;
    const auto& w = session_->warnings();
    for (size_t i = 0; i < w.size(); ++i) out.Set(static_cast<uint32_t>(i), w[i]);
    return out;
  }

  Napi::Value Result(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!session_) return o;
    const std::string err = session_->error();
    if (!err.empty()) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("code", podspan::error_code(session_->error_kind()));
      e.Set("message", err);
      o.Set("error", e);
    }
    Napi::Array files = Napi::Array::New(env);
    auto f = session_->files();
    for (size_t i = 0; i < f.size(); ++i) files.Set(static_cast<uint32_t>(i), f[i]);
    o.Set("files", files);
    o.Set("packetsRead", Napi::Number::New(env, static_cast<double>(session_->packets_read())));
    o.Set("finished", Napi::Boolean::New(env, session_->finished()));
    return o;
  }

  // The output's files closed by rotation since the last call (for -z).
  Napi::Value TakeRotatedFiles(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array files = Napi::Array::New(env);
    if (!session_) return files;
    auto f = session_->take_rotated_files();
    for (size_t i = 0; i < f.size(); ++i) files.Set(static_cast<uint32_t>(i), f[i]);
    return files;
  }

  // Decode and reassembly counters of the stream files or stream events sink, or null.
  Napi::Value StreamStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sinks_.streams && !sinks_.events) return env.Null();
    auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
    Napi::Object o = Napi::Object::New(env);
    podspan::TcpPipelineStats s;
    if (sinks_.streams) {
      const podspan::StreamFilesStats f = sinks_.streams->stats();
      s = f;
      o.Set("files", num(f.files));
      o.Set("unwrittenFiles", num(f.unwritten_files));
      o.Set("unwrittenBytes", num(f.unwritten_bytes));
      o.Set("truncatedBytes", num(f.truncated_bytes));
    } else {
      const podspan::StreamEventStats e = sinks_.events->stats();
      s = e;
      o.Set("files", num(0));
      o.Set("eventBatches", num(e.batches));
      o.Set("events", num(e.events));
      o.Set("droppedDataBytes", num(e.dropped_data_bytes));
      o.Set("droppedEvents", num(e.dropped_events));
      o.Set("truncatedBytes", num(e.truncated_bytes));
    }
    o.Set("packets", num(s.packets));
    o.Set("tcpPackets", num(s.tcp_packets));
    Napi::Object d = Napi::Object::New(env);
    d.Set("ok", num(s.decode.ok));
    d.Set("truncated", num(s.decode.truncated));
    d.Set("unknownLinktype", num(s.decode.unknown_linktype));
    d.Set("notIp", num(s.decode.not_ip));
    d.Set("malformed", num(s.decode.malformed));
    d.Set("fragments", num(s.decode.fragments));
    d.Set("tunnels", num(s.decode.tunnels));
    d.Set("tunnelsOpened", num(s.decode.tunnels_opened));
    o.Set("decode", d);
    Napi::Object fr = Napi::Object::New(env);
    fr.Set("fragments", num(s.defrag.fragments));
    fr.Set("reassembled", num(s.defrag.reassembled));
    fr.Set("timedOut", num(s.defrag.timed_out));
    fr.Set("dropped", num(s.defrag.dropped));
    fr.Set("overlapConflicts", num(s.defrag.overlap_conflicts));
    o.Set("defrag", fr);
    const podspan::ReassemblyStats& r = s.reassembly;
    o.Set("streams", num(r.streams));
    o.Set("bytes", num(r.bytes));
    o.Set("gaps", num(r.gaps));
    o.Set("gapBytes", num(r.gap_bytes));
    o.Set("retransmittedBytes", num(r.retransmitted_bytes));
    o.Set("overlapBytes", num(r.overlap_bytes));
    o.Set("overlapConflicts", num(r.overlap_conflicts));
    o.Set("peakBufferedBytes", num(r.peak_buffered_bytes));
    o.Set("bufferedBytes", num(r.buffered_bytes));
    o.Set("bufferedMemory", num(r.buffered_memory));
    o.Set("peakBufferedMemory", num(r.peak_buffered_memory));
    o.Set("flows", num(r.flows));
    Napi::Object closed = Napi::Object::New(env);
    for (int i = 0; i < 5; ++i) closed.Set(podspan::close_reason_name(static_cast<podspan::CloseReason>(i)), num(r.closed[i]));
    o.Set("closed", closed);
    return o;
  }

  // Per VXLAN/GENEVE/GRE target: {target, sourcePorts, frames, bytes, truncated, ...}.
  Napi::Value ForwardStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
    for (size_t i = 0; i < sinks_.vxlan.size(); ++i) {
      const podspan::EncapSender& v = *sinks_.vxlan[i];
      const podspan::EncapStats s = v.stats();
      Napi::Object o = Napi::Object::New(env);
      o.Set("target", v.target());
      Napi::Array ports = Napi::Array::New(env);
      const auto p = v.source_ports();
      for (size_t j = 0; j < p.size(); ++j) ports.Set(static_cast<uint32_t>(j), Napi::Number::New(env, p[j]));
      o.Set("sourcePorts", ports);
      o.Set("frames", num(s.frames));
      o.Set("bytes", num(s.bytes));
      o.Set("truncated", num(s.truncated));
      o.Set("oversizeFragmented", num(s.oversize_fragmented));
      o.Set("oversizeTruncated", num(s.oversize_truncated));
      o.Set("syntheticEthernet", num(s.synthetic_ethernet));
      o.Set("unsupported", num(s.unsupported));
      o.Set("sendErrors", num(s.send_errors));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

  // Joins the threads and frees the session (files are already closed when "done" fired).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  void shutdown() {
    closed_ = true;
    if (sinks_.events) sinks_.events->abandon();  // a file reader may be waiting for JS to take events
    if (sinks_.analysis) sinks_.analysis->abandon();  // ... or records
    if (sinks_.shadow) sinks_.shadow->abandon();      // ... or exchanges
    session_.reset();  // stops, releases waiting threads, joins
  }

  Sinks sinks_;  // declared before session_: outlives it
  std::unique_ptr<CaptureSession> session_;
  std::unique_ptr<CaptureOptions> deferred_;  // {deferOpen: true}: what open() will open
  bool closed_ = false;                       // close() ran: a session opened later is discarded
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> batch_signal_pending_{false};
  bool started_ = false;
  podspan::Batch batch_;
  podspan::StreamEventBatch event_batch_;
  podspan::RecordBatch record_batch_;
  podspan::ExchangeBatch exchange_batch_;
  podspan::SplitPlan plan_;
  bool holding_batch_ = false;  // takeMessages took batch_ and waits for a head with every source
};

}  // namespace

namespace podspan_addon {
Napi::Function InitCapture(Napi::Env env) { return NativeCapture::Init(env); }
}  // namespace podspan_addon
