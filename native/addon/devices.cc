// The capturable interfaces (podspan interfaces, -D), their link and time stamp types (-L, -J,
// and the names -y and -j take), and libpcap's version.
#include "areas.h"

#include "capture/devices.h"
#include "js_errors.h"

namespace podspan_addon {

using podspan::CaptureError;

Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<podspan::DeviceInfo> devices;
  try {
    devices = podspan::list_devices();
  } catch (const CaptureError& e) {
    throw_capture_error(env, e);
  }
  Napi::Array out = Napi::Array::New(env);
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", d.name);
    o.Set("description", d.description);
    Napi::Array flags = Napi::Array::New(env);
    for (size_t j = 0; j < d.flags.size(); ++j) flags.Set(static_cast<uint32_t>(j), d.flags[j]);
    o.Set("flags", flags);
    Napi::Array addrs = Napi::Array::New(env);
    for (size_t j = 0; j < d.addresses.size(); ++j) {
      const auto& a = d.addresses[j];
      Napi::Object ao = Napi::Object::New(env);
      ao.Set("family", a.family);
      ao.Set("address", a.address);
      if (!a.netmask.empty()) ao.Set("netmask", a.netmask);
      if (!a.broadcast.empty()) ao.Set("broadcast", a.broadcast);
      if (!a.destination.empty()) ao.Set("destination", a.destination);
      addrs.Set(static_cast<uint32_t>(j), ao);
    }
    o.Set("addresses", addrs);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

namespace {

Napi::Array type_names(Napi::Env env, const std::vector<podspan::PcapTypeName>& types) {
  Napi::Array out = Napi::Array::New(env);
  for (size_t i = 0; i < types.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("value", types[i].value);
    o.Set("name", types[i].name);
    o.Set("description", types[i].description);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

template <typename List>
Napi::Value device_types(const Napi::CallbackInfo& info, List list) {
  Napi::Env env = info.Env();
  std::vector<podspan::PcapTypeName> types;
  try {
    types = list(info[0].As<Napi::String>().Utf8Value());
  } catch (const CaptureError& e) {
    throw_capture_error(env, e);
  }
  return type_names(env, types);
}

}  // namespace

Napi::Value DeviceLinkTypes(const Napi::CallbackInfo& info) { return device_types(info, podspan::device_link_types); }

Napi::Value DeviceTimeStampTypes(const Napi::CallbackInfo& info) { return device_types(info, podspan::device_timestamp_types); }

Napi::Value LinkTypeValue(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), podspan::link_type_value(info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value LinkTypeName(const Napi::CallbackInfo& info) {
  return type_names(info.Env(), {podspan::link_type_named(info[0].As<Napi::Number>().Int32Value())}).Get(0u);
}

Napi::Value TimeStampTypeValue(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), podspan::timestamp_type_value(info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value LibpcapVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), podspan::pcap_lib_version_text());
}

}  // namespace podspan_addon
