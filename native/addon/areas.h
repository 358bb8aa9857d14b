// The addon's parts, one per area, registered by module.cc.
#pragma once

#include <napi.h>

namespace podspan_addon {
Napi::Function InitCapture(Napi::Env env);          // capture.cc
Napi::Function InitCollectorWriter(Napi::Env env);  // collector_writer.cc
Napi::Function InitEncapReceiver(Napi::Env env);    // encap_receiver.cc
Napi::Function InitFrameFilter(Napi::Env env);      // live_tap_filter.cc
Napi::Function InitScanGroup(Napi::Env env);        // analysis.cc
Napi::Function InitHttp1Transport(Napi::Env env);   // replay.cc
Napi::Value ListInterfaces(const Napi::CallbackInfo& info);  // devices.cc
Napi::Value LibpcapVersion(const Napi::CallbackInfo& info);  // devices.cc
Napi::Value DeviceLinkTypes(const Napi::CallbackInfo& info);       // devices.cc
Napi::Value DeviceTimeStampTypes(const Napi::CallbackInfo& info);  // devices.cc
Napi::Value LinkTypeValue(const Napi::CallbackInfo& info);         // devices.cc
Napi::Value TimeStampTypeValue(const Napi::CallbackInfo& info);    // devices.cc
Napi::Value LinkTypeName(const Napi::CallbackInfo& info);          // devices.cc
Napi::Value CheckFrameBatch(const Napi::CallbackInfo& info);  // frame_batch.cc
Napi::Value FilterCompileError(const Napi::CallbackInfo& info);  // live_tap_filter.cc
Napi::Value ReleaseFrames(const Napi::CallbackInfo& info);    // lent_frames.cc
Napi::Value ValuesAtRanks(const Napi::CallbackInfo& info);    // analysis.cc
Napi::Value SetThreadIdle(const Napi::CallbackInfo& info);    // scheduling.cc
Napi::Value SetThreadNormal(const Napi::CallbackInfo& info);  // scheduling.cc
}  // namespace podspan_addon
