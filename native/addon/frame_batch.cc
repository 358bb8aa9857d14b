// The collector's check of a received FrameBatch, before it acts on it.
#include "areas.h"

#include "forward/frame_batch.h"

namespace podspan_addon {

// checkFrameBatch(buffer): undefined for a well-formed FrameBatch, else the one-line reason.
Napi::Value CheckFrameBatch(const Napi::CallbackInfo& info) {
  const auto b = info[0].As<Napi::Buffer<uint8_t>>();
  const std::string problem = podspan::check_frame_batch(b.Data(), b.Length());
  return problem.empty() ? info.Env().Undefined() : Napi::String::New(info.Env(), problem);
}

}  // namespace podspan_addon
