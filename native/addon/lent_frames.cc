#include "lent_frames.h"

namespace podspan_addon {

namespace {

// Marks the Buffers lend_frames made: only those may be detached.
constexpr napi_type_tag kLentFramesTag = {0x706f647370616e2dULL, 0x6c656e746672616dULL};

struct Lent {
  std::vector<uint8_t> data;
  std::shared_ptr<podspan::BatchStoragePool> pool;
};

}  // namespace

Napi::Buffer<uint8_t> lend_frames(Napi::Env env, std::vector<uint8_t>&& data, size_t used, const std::shared_ptr<podspan::BatchStoragePool>& pool) {
  auto* lent = new Lent{std::move(data), pool};
  // runs on the JavaScript thread once the Buffer is detached (releaseFrames) or collected
  auto back = [](Napi::Env, uint8_t*, Lent* l) {
    l->pool->put(std::move(l->data));
    delete l;
  };
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::New(env, lent->data.data(), used, back, lent);
  buffer.TypeTag(&kLentFramesTag);
  return buffer;
}

Napi::Value ReleaseFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer() || !info[0].As<Napi::Object>().CheckTypeTag(&kLentFramesTag)) {
    throw Napi::TypeError::New(env, "releaseFrames: not a Buffer of lent frames");
  }
  Napi::ArrayBuffer ab = info[0].As<Napi::Buffer<uint8_t>>().ArrayBuffer();
  if (!ab.IsDetached()) ab.Detach();
  return env.Undefined();
}

}  // namespace podspan_addon
