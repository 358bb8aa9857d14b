// NativeHttp1Transport: replays HTTP/1 to a plain-http target from the core's transport thread
// (replay/http1_transport.h). JavaScript submits requests in batches (the requests of one turn
// of its event loop, with one call) and takes completions in batches: the transport's thread wakes the event loop once per batch through a
// thread-safe function, never once per request.
#include <atomic>
#include <memory>

#include "areas.h"
#include "replay/http1_transport.h"

namespace podspan_addon {

namespace {

// A string option as latin1 bytes, a byte per character, as JavaScript writes request heads.
std::string latin1(Napi::Value v) {
  if (!v.IsString()) return {};
  size_t n = 0;
  napi_get_value_string_latin1(v.Env(), v, nullptr, 0, &n);
  std::string out(n, '\0');
  napi_get_value_string_latin1(v.Env(), v, out.data(), n + 1, &n);
  return out;
}

class NativeHttp1Transport : public Napi::ObjectWrap<NativeHttp1Transport> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeHttp1Transport",
                       {InstanceMethod("submit", &NativeHttp1Transport::Submit),
                        InstanceMethod("take", &NativeHttp1Transport::Take), InstanceMethod("stats", &NativeHttp1Transport::Stats),
                        InstanceMethod("ref", &NativeHttp1Transport::Ref), InstanceMethod("unref", &NativeHttp1Transport::Unref),
                        InstanceMethod("stop", &NativeHttp1Transport::Stop)});
  }

  // new NativeHttp1Transport({host, port, timeoutMs, maxBodyBytes, maxQueued, markerName,
  // markerValue, hostRewrite, defaultHost, sameIgnoredHeaders}, onReady): the options were
  // validated by the caller (src/shadow/replay/native-http1.ts); markerName to defaultHost write
  // the heads of requests handed over as rows (absent: no marker, the captured Host).
  explicit NativeHttp1Transport(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeHttp1Transport>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "options and callback expected");
    const Napi::Object o = info[0].As<Napi::Object>();
    podspan::Http1TransportOptions opt;
    opt.host = o.Get("host").As<Napi::String>().Utf8Value();
    opt.port = static_cast<uint16_t>(o.Get("port").As<Napi::Number>().Uint32Value());
    opt.timeout_ms = o.Get("timeoutMs").As<Napi::Number>().Uint32Value();
    opt.max_body = static_cast<size_t>(o.Get("maxBodyBytes").As<Napi::Number>().Int64Value());
    opt.max_queued = static_cast<size_t>(o.Get("maxQueued").As<Napi::Number>().Int64Value());
    opt.head.marker_name = latin1(o.Get("markerName"));
    opt.head.marker_value = latin1(o.Get("markerValue"));
    opt.head.host_rewrite = latin1(o.Get("hostRewrite"));
    opt.head.default_host = latin1(o.Get("defaultHost"));
    // Lower-case header names the check of answers against production's leaves out (kCompareAnswer).
    const Napi::Value ignored = o.Get("sameIgnoredHeaders");
    if (ignored.IsArray()) {
      const auto list = ignored.As<Napi::Array>();
      for (uint32_t i = 0; i < list.Length(); ++i) opt.same.ignored.insert(latin1(list.Get(i)));
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "podspan-replay", 0, 1);
    tsfn_.Unref(env);  // JavaScript refs it while requests are outstanding
    auto pending = pending_;
    auto tsfn = tsfn_;
    transport_ = std::make_unique<podspan::Http1Transport>(std::move(opt), [pending, tsfn]() mutable {
      // One wake-up waiting at a time: JavaScript takes every completion when it runs.
      if (!pending->exchange(true)) {
        tsfn.NonBlockingCall([pending](Napi::Env, Napi::Function fn) {
          pending->store(false);
          fn.Call({});
        });
      }
    });
  }

  ~NativeHttp1Transport() override { Shutdown(); }

 private:
  void Shutdown() {
    if (!transport_) return;
    transport_->stop();
    transport_.reset();
    tsfn_.Release();
  }

  // submit(items, bytes): items a Uint32Array of [lane, requestId, flags, length] per request or
  // lane end (ReplaySubmission), bytes the requests back to back. Returns how many requests were
  // refused (the queue was full): the last ones of the batch.
  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto items = info[0].As<Napi::Uint32Array>();
    const auto bytes = info[1].As<Napi::Buffer<char>>();
    const size_t n = items.ElementLength() / 4;
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) total += items[i * 4 + 3];
    if (total > bytes.Length()) throw Napi::RangeError::New(env, "submit: the items ask for more bytes than given");
    static_assert(sizeof(podspan::ReplaySubmission) == 16, "four uint32 per item");
    const auto* subs = reinterpret_cast<const podspan::ReplaySubmission*>(items.Data());
    size_t refused = 0;
    if (transport_) {
      refused = transport_->submit_batch(subs, n, bytes.Data());
    } else {
      for (size_t i = 0; i < n; ++i) refused += (subs[i].flags & podspan::ReplaySubmission::kCloseLane) ? 0 : 1;
    }
    return Napi::Number::New(env, static_cast<double>(refused));
  }

  // take(): {records, data, count} (records: 40 bytes each, see ReplayCompletionRecord; data: each
  // record's headers then body) or null. One copy per batch.
  Napi::Value Take(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!transport_ || !transport_->take(batch_)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(batch_.records.data()),
                                                 batch_.records.size() * sizeof(podspan::ReplayCompletionRecord)));
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(batch_.data.data()), batch_.data.size()));
    o.Set("count", Napi::Number::New(env, static_cast<double>(batch_.records.size())));
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    const podspan::Http1TransportStats s = transport_ ? transport_->stats() : podspan::Http1TransportStats{};
    o.Set("submitted", Napi::Number::New(env, static_cast<double>(s.submitted)));
    o.Set("completed", Napi::Number::New(env, static_cast<double>(s.completed)));
    o.Set("refusedFull", Napi::Number::New(env, static_cast<double>(s.refused_full)));
    o.Set("connections", Napi::Number::New(env, static_cast<double>(s.connections)));
    return o;
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (transport_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (transport_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  std::shared_ptr<std::atomic<bool>> pending_ = std::make_shared<std::atomic<bool>>(false);
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<podspan::Http1Transport> transport_;
  podspan::ReplayCompletions batch_;
};

}  // namespace

Napi::Function InitHttp1Transport(Napi::Env env) { return NativeHttp1Transport::Init(env); }

}  // namespace podspan_addon
