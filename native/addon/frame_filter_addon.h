// The addon's live-tap part (frame_filter.cc), registered by addon.cc's Init.
#pragma once

#include <napi.h>

namespace podspan_addon {
Napi::Function InitFrameFilter(Napi::Env env);
}  // namespace podspan_addon
