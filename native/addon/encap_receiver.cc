// NativeEncapReceiver: the collector's VXLAN, GENEVE and GRE/ERSPAN listeners.
#include "areas.h"

#include <memory>

#include "forward/encap_receiver.h"
#include "js_errors.h"
#include "values.h"

namespace {

using podspan::CaptureError;
using podspan_addon::coded_error;
using podspan_addon::throw_capture_error;
using namespace podspan_addon;

// A listener: decapsulates on a native thread into its own capture file.
class NativeEncapReceiver : public Napi::ObjectWrap<NativeEncapReceiver> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeEncapReceiver",
                       {InstanceMethod("start", &NativeEncapReceiver::Start), InstanceMethod("stop", &NativeEncapReceiver::Stop),
                        InstanceMethod("stats", &NativeEncapReceiver::Stats), InstanceMethod("port", &NativeEncapReceiver::Port)});
  }

  explicit NativeEncapReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEncapReceiver>(info) {
    const Napi::Object o = info[0].As<Napi::Object>();
    podspan::EncapReceiverOptions opt;
    const std::string kind = get_string(o, "kind", "vxlan");
    opt.kind = kind == "geneve" ? podspan::Encapsulation::kGeneve : kind == "gre" ? podspan::Encapsulation::kGre : podspan::Encapsulation::kVxlan;
    opt.host = get_string(o, "host", opt.host);
    opt.port = static_cast<uint16_t>(get_number(o, "port", opt.port));
    opt.max_sources = static_cast<uint32_t>(get_number(o, "maxSources", opt.max_sources));
    opt.writer = collector_writer_options(o);
    opt.writer.format = podspan::FileFormat::kPcapng;
    opt.writer.section.userappl = kind == "geneve" ? "podspan collector (GENEVE)" : kind == "gre" ? "podspan collector (GRE/ERSPAN)" : "podspan collector (VXLAN)";
    try {
      receiver_ = std::make_unique<podspan::EncapReceiver>(opt);
    } catch (const CaptureError& e) {
      throw_capture_error(info.Env(), e);
    }
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    receiver_->start();
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    try {
      receiver_->stop();
    } catch (const CaptureError& e) {
      throw_capture_error(info.Env(), e);
    }
    Napi::Array files = Napi::Array::New(info.Env());
    const auto f = receiver_->files();
    for (size_t i = 0; i < f.size(); ++i) files.Set(static_cast<uint32_t>(i), f[i]);
    return files;
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const podspan::EncapReceiverStats s = receiver_->stats();
    auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
    Napi::Object o = Napi::Object::New(env);
    o.Set("datagrams", num(s.datagrams));
    o.Set("frames", num(s.frames));
    o.Set("bytes", num(s.bytes));
    o.Set("malformed", num(s.malformed));
    o.Set("sources", num(s.sources));
    o.Set("refused", num(s.refused));
    const std::string err = receiver_->error();
    if (!err.empty()) o.Set("error", err);
    return o;
  }
  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), receiver_->port()); }

  std::unique_ptr<podspan::EncapReceiver> receiver_;
};

}  // namespace

namespace podspan_addon {
Napi::Function InitEncapReceiver(Napi::Env env) { return NativeEncapReceiver::Init(env); }
}  // namespace podspan_addon
