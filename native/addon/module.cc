// The addon's entry point: one part per area (capture, collector files, VXLAN receiver, live-tap
// filter, devices, thread scheduling), each in its own file. The JS side (src/capture) validates options before
// calling in; the binding only converts values and maps CaptureError to coded JS errors.
#include "areas.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace podspan_addon;
  exports.Set("NativeCapture", InitCapture(env));
  exports.Set("NativeWriter", InitCollectorWriter(env));
  exports.Set("NativeEncapReceiver", InitEncapReceiver(env));
  exports.Set("NativeFrameFilter", InitFrameFilter(env));
  exports.Set("NativeScanGroup", InitScanGroup(env));
  exports.Set("NativeHttp1Transport", InitHttp1Transport(env));
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces));
  exports.Set("libpcapVersion", Napi::Function::New(env, LibpcapVersion));
  exports.Set("deviceLinkTypes", Napi::Function::New(env, DeviceLinkTypes));
  exports.Set("deviceTimeStampTypes", Napi::Function::New(env, DeviceTimeStampTypes));
  exports.Set("linkTypeValue", Napi::Function::New(env, LinkTypeValue));
  exports.Set("timeStampTypeValue", Napi::Function::New(env, TimeStampTypeValue));
  exports.Set("linkTypeName", Napi::Function::New(env, LinkTypeName));
  exports.Set("checkFrameBatch", Napi::Function::New(env, CheckFrameBatch));
  exports.Set("filterCompileError", Napi::Function::New(env, FilterCompileError));
  exports.Set("releaseFrames", Napi::Function::New(env, ReleaseFrames));
  exports.Set("valuesAtRanks", Napi::Function::New(env, ValuesAtRanks));
  exports.Set("setThreadIdle", Napi::Function::New(env, SetThreadIdle));
  exports.Set("setThreadNormal", Napi::Function::New(env, SetThreadNormal));
  return exports;
}

}  // namespace

NODE_API_MODULE(podspan, Init)
