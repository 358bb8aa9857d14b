// CaptureError -> a JS Error with `code` (ERR_FILTER, ...), shared by the addon's parts, so
// src/errors.ts can type it and the CLI print one line.
#pragma once

#include <napi.h>

#include <string>

#include "common/errors.h"

namespace podspan_addon {

inline Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

[[noreturn]] inline void throw_capture_error(Napi::Env env, const podspan::CaptureError& e) {
  throw coded_error(env, podspan::error_code(e.kind()), e.what());
}

}  // namespace podspan_addon
