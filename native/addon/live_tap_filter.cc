// NativeFrameFilter: what a live-tap subscriber asked for (its sources and BPF expression) taken
// out of a FrameBatch's columns, one call per batch, never per frame from JavaScript.
#include "areas.h"

#include <cstring>
#include <memory>
#include <vector>

#include "capture/frame_filter.h"
#include "js_errors.h"

namespace {

uint32_t u32(const uint8_t* p) { return static_cast<uint32_t>(p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24); }

class NativeFrameFilter : public Napi::ObjectWrap<NativeFrameFilter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeFrameFilter", {InstanceMethod("select", &NativeFrameFilter::Select)});
  }

  explicit NativeFrameFilter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeFrameFilter>(info) {
    filter_ = std::make_unique<podspan::FrameFilter>(info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "");
    try {
      if (!filter_->expression().empty()) filter_->compile(1);  // Ethernet: most sources are
    } catch (const podspan::CaptureError& e) {
      podspan_addon::throw_capture_error(info.Env(), e);
    }
  }

 private:
  // select(frames, caplen, origlen, timestampNs, source, linktypes, wanted): the columns as the
  // wire carries them (little-endian arrays); linktypes and wanted (0/1) one per source index.
  // Returns the same columns holding only the frames of wanted sources that match the expression.
  Napi::Value Select(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto usage = [&](const char* what) { return podspan_addon::coded_error(env, "ERR_USAGE", std::string("select: ") + what); };
    for (int i = 0; i < 5; ++i) {
      if (!info[i].IsBuffer()) throw usage("expected the frame columns as Buffers");
    }
    if (!info[5].IsArray() || !info[6].IsBuffer()) throw usage("expected the sources' link types and wanted flags");
    auto frames = info[0].As<Napi::Buffer<uint8_t>>();
    auto caplen = info[1].As<Napi::Buffer<uint8_t>>();
    auto origlen = info[2].As<Napi::Buffer<uint8_t>>();
    auto ts = info[3].As<Napi::Buffer<uint8_t>>();
    auto source = info[4].As<Napi::Buffer<uint8_t>>();
    const Napi::Array list = info[5].As<Napi::Array>();
    auto wanted = info[6].As<Napi::Buffer<uint8_t>>();
    std::vector<uint16_t> linktypes(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) linktypes[i] = static_cast<uint16_t>(list.Get(i).ToNumber().Uint32Value());
    const size_t count = caplen.Length() / 4;
    if (origlen.Length() != caplen.Length() || source.Length() != caplen.Length() || ts.Length() != count * 8) {
      throw usage("columns of different lengths");
    }
    if (wanted.Length() < linktypes.size()) throw usage("a wanted flag per source");

    std::vector<uint32_t> keep;  // the frames kept, and where each starts
    std::vector<size_t> offsets;
    size_t off = 0, bytes = 0;
    try {
      for (size_t i = 0; i < count; ++i) {
        const uint32_t len = u32(caplen.Data() + 4 * i);
        const uint32_t src = u32(source.Data() + 4 * i);
        if (len > frames.Length() - off || src >= linktypes.size()) throw usage("a frame length or source index is past the batch");
        if (wanted.Data()[src] && filter_->matches(linktypes[src], frames.Data() + off, len, u32(origlen.Data() + 4 * i))) {
          keep.push_back(static_cast<uint32_t>(i));
          offsets.push_back(off);
          bytes += len;
        }
        off += len;
      }
    } catch (const podspan::CaptureError& e) {
      podspan_addon::throw_capture_error(env, e);
    }
    const size_t n = keep.size();
    auto out_frames = Napi::Buffer<uint8_t>::New(env, bytes);
    auto out_caplen = Napi::Buffer<uint8_t>::New(env, n * 4);
    auto out_origlen = Napi::Buffer<uint8_t>::New(env, n * 4);
    auto out_ts = Napi::Buffer<uint8_t>::New(env, n * 8);
    auto out_source = Napi::Buffer<uint8_t>::New(env, n * 4);
    size_t at = 0;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = keep[k];
      const uint32_t len = u32(caplen.Data() + 4 * i);
      std::memcpy(out_frames.Data() + at, frames.Data() + offsets[k], len);
      at += len;
      std::memcpy(out_caplen.Data() + 4 * k, caplen.Data() + 4 * i, 4);
      std::memcpy(out_origlen.Data() + 4 * k, origlen.Data() + 4 * i, 4);
      std::memcpy(out_ts.Data() + 8 * k, ts.Data() + 8 * i, 8);
      std::memcpy(out_source.Data() + 4 * k, source.Data() + 4 * i, 4);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("frames", out_frames);
    out.Set("caplen", out_caplen);
    out.Set("origlen", out_origlen);
    out.Set("timestampNs", out_ts);
    out.Set("source", out_source);
    out.Set("count", Napi::Number::New(env, static_cast<double>(n)));
    return out;
  }

  std::unique_ptr<podspan::FrameFilter> filter_;
};

}  // namespace

namespace podspan_addon {
Napi::Function InitFrameFilter(Napi::Env env) { return NativeFrameFilter::Init(env); }

// filterCompileError(expression, linkTypes): null when the expression compiles (unoptimised) for
// one of the link types, else why it does not for the first.
Napi::Value FilterCompileError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray()) throw Napi::TypeError::New(env, "expected an expression and link types");
  const std::string expression = info[0].As<Napi::String>().Utf8Value();
  const Napi::Array linktypes = info[1].As<Napi::Array>();
  std::string first;
  for (uint32_t i = 0; i < linktypes.Length(); ++i) {
    const std::string why = podspan::filter_compile_error(expression, static_cast<uint16_t>(linktypes.Get(i).ToNumber().Uint32Value()));
    if (why.empty()) return env.Null();
    if (first.empty()) first = why;
  }
  return Napi::String::New(env, first);
}
}  // namespace podspan_addon
