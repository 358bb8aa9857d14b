// NativeWriter: the collector's capture files, fed columns of frames received from agents.
#include "areas.h"

#include <memory>
#include <vector>

#include "forward/frame_batch.h"
#include "js_errors.h"
#include "pcap/file_writer.h"
#include "values.h"

namespace {

using podspan::CaptureError;
using podspan_addon::coded_error;
using podspan_addon::throw_capture_error;
using namespace podspan_addon;

constexpr uint32_t kRefusedSource = 0xffffffff;  // in a write() map: the source's frames are skipped

// The collector's file writer: pcap/pcapng with rotation, fed columns of frames from JS
// (one call per received batch), with per-interface counters written into pcapng ISBs.
class NativeWriter : public Napi::ObjectWrap<NativeWriter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeWriter",
                       {InstanceMethod("addInterface", &NativeWriter::AddInterface),
                        InstanceMethod("write", &NativeWriter::Write),
                        InstanceMethod("setDrops", &NativeWriter::SetDrops),
                        InstanceMethod("flush", &NativeWriter::Flush),
                        InstanceMethod("files", &NativeWriter::Files),
                        InstanceMethod("close", &NativeWriter::Close)});
  }

  explicit NativeWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeWriter>(info) {
    Napi::Env env = info.Env();
    const Napi::Object w = info[0].As<Napi::Object>();
    podspan::WriterOptions opt = collector_writer_options(w);
    opt.format = parse_format(get_string(w, "format"));
    opt.section.userappl = get_string(w, "application", "podspan collector");
    if (w.Get("comments").IsArray()) {
      Napi::Array c = w.Get("comments").As<Napi::Array>();
      for (uint32_t i = 0; i < c.Length(); ++i) opt.section.comments.push_back(c.Get(i).As<Napi::String>().Utf8Value());
    }
    opt.stats_for_interface = [this](uint32_t iface) {
      return iface < stats_.size() ? stats_[iface] : podspan::InterfaceStats{};
    };
    try {
      writer_ = std::make_unique<podspan::CaptureWriter>(opt);
    } catch (const CaptureError& e) {
      throw_capture_error(env, e);
    }
  }

 private:
  Napi::Value AddInterface(const Napi::CallbackInfo& info) {
    const Napi::Object o = info[0].As<Napi::Object>();
    podspan::InterfaceInfo i;
    i.name = get_string(o, "name");
    i.description = get_string(o, "description");
    const double linktype = get_number(o, "linktype", 1);
    if (!(linktype >= 0 && linktype <= 65535)) {
      throw coded_error(info.Env(), "ERR_USAGE", "link type " + std::to_string(linktype) + " does not fit an interface block (at most 65535)");
    }
    i.linktype = static_cast<uint16_t>(linktype);
    i.snaplen = static_cast<uint32_t>(get_number(o, "snaplen", 262144));
    guard(info.Env(), [&] { writer_->add_interface(i); });
    stats_.emplace_back();
    return Napi::Number::New(info.Env(), static_cast<double>(writer_->interface_count() - 1));
  }

  // write(frames, caplen, origlen, timestampNs, source, count, map): the columns of one received
  // batch; map (LE uint32 per batch source) gives each source's writer interface, or
  // kRefusedSource to skip its frames. The whole batch is checked before a byte is written, so a
  // malformed one leaves the file untouched. Returns the frames written.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto buf = [&](int i) { return info[i].As<Napi::Buffer<uint8_t>>(); };
    const auto frames = buf(0), caplen = buf(1), origlen = buf(2), ts = buf(3), source = buf(4), map = buf(6);
    const size_t n = info[5].As<Napi::Number>().Uint32Value();
    const size_t sources = map.Length() / 4;
    auto u32 = [](const uint8_t* p) {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    };
    std::string problem;
    if (caplen.Length() != n * 4 || origlen.Length() != n * 4 || ts.Length() != n * 8 || source.Length() != n * 4) {
      problem = "columns disagree with the frame count " + std::to_string(n);
    }
    uint64_t total = 0;
    for (size_t k = 0; k < n && problem.empty(); ++k) {
      const uint32_t len = u32(caplen.Data() + k * 4);
      if (len > 262144) problem = "frame " + std::to_string(k) + " is " + std::to_string(len) + " bytes (at most 262144)";
      else if (u32(source.Data() + k * 4) >= sources) problem = "frame " + std::to_string(k) + " names source " + std::to_string(u32(source.Data() + k * 4)) + " of " + std::to_string(sources);
      else if (const uint32_t m = u32(map.Data() + u32(source.Data() + k * 4) * 4); m >= stats_.size() && m != kRefusedSource) {
        problem = "a source maps to no interface";
      }
      total += len;
    }
    if (problem.empty() && total != frames.Length()) {
      problem = "frame lengths add up to " + std::to_string(total) + " bytes, the frames field holds " + std::to_string(frames.Length());
    }
    if (!problem.empty()) throw coded_error(env, "ERR_USAGE", problem);
    size_t offset = 0;
    uint32_t written = 0;
    // Large frames are written from the message itself (writev), not copied into the file buffer:
    // the kernel has them before this call returns, while the message is still alive.
    guard(env, [&] {
      struct Release {
        podspan::CaptureWriter& w;
        bool done = false;
        ~Release() {
          if (done) return;
          try {
            w.release_referenced();  // after an error: the frames before it still go out whole
          } catch (const CaptureError&) {
          }
        }
      } release{*writer_};
      for (size_t k = 0; k < n; ++k) {
        podspan::PacketRecord rec{};
        rec.caplen = u32(caplen.Data() + k * 4);
        std::memcpy(&rec.origlen, origlen.Data() + k * 4, 4);
        std::memcpy(&rec.ts_ns, ts.Data() + k * 8, 8);
        rec.iface = u32(map.Data() + u32(source.Data() + k * 4) * 4);
        if (rec.origlen < rec.caplen) rec.origlen = rec.caplen;
        const uint8_t* bytes = frames.Data() + offset;
        offset += rec.caplen;
        if (rec.iface == kRefusedSource) continue;
        writer_->write_referenced(rec, bytes);
        ++written;
        ++stats_[rec.iface].received;
        ++stats_[rec.iface].captured;
      }
      release.done = true;
      writer_->release_referenced();
    });
    return Napi::Number::New(env, written);
  }

  // setDrops(iface, {kernel, interface, queue}): losses upstream of the file, for its ISB
  // (frames written are counted here, natively).
  Napi::Value SetDrops(const Napi::CallbackInfo& info) {
    const uint32_t i = info[0].As<Napi::Number>().Uint32Value();
    const Napi::Object o = info[1].As<Napi::Object>();
    if (i < stats_.size()) {
      stats_[i].dropped_kernel = static_cast<uint64_t>(get_number(o, "kernel", 0));
      stats_[i].dropped_iface = static_cast<uint64_t>(get_number(o, "interface", 0));
      stats_[i].dropped_queue = static_cast<uint64_t>(get_number(o, "queue", 0));
    }
    return info.Env().Undefined();
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { writer_->flush(); });
    return info.Env().Undefined();
  }

  Napi::Value Files(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    const auto f = writer_->files();
    for (size_t i = 0; i < f.size(); ++i) out.Set(static_cast<uint32_t>(i), f[i]);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { writer_->close(); });
    return info.Env().Undefined();
  }

  template <typename F>
  void guard(Napi::Env env, F&& f) {
    try {
      f();
    } catch (const CaptureError& e) {
      throw_capture_error(env, e);
    }
  }

  std::unique_ptr<podspan::CaptureWriter> writer_;
  std::vector<podspan::InterfaceStats> stats_;
};

}  // namespace

namespace podspan_addon {
Napi::Function InitCollectorWriter(Napi::Env env) { return NativeWriter::Init(env); }
}  // namespace podspan_addon
