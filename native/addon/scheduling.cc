// Thread scheduling the JavaScript side cannot reach: Node sets nice values (os.setPriority) but
// not the scheduling class. SCHED_IDLE is the kernel's class for work that may run only when
// nothing else wants the CPU: a normal task that wakes takes the CPU from it at once.
#include <errno.h>
#include <sched.h>

#include <string>

#include "areas.h"

namespace podspan_addon {

namespace {

// Puts thread `tid` (argument 0) in `policy`; true when the kernel agreed.
Napi::Value SetThreadPolicy(const Napi::CallbackInfo& info, const char* name, int policy) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, std::string(name) + "(tid): tid must be a number");
  const pid_t tid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = 0;
  return Napi::Boolean::New(env, sched_setscheduler(tid, policy, &param) == 0);
#else
  (void)tid;
  (void)policy;
  return Napi::Boolean::New(env, false);
#endif
}

}  // namespace

// setThreadIdle(tid) -> true, or false when the kernel refused (the thread may have ended).
Napi::Value SetThreadIdle(const Napi::CallbackInfo& info) {
  return SetThreadPolicy(info, "setThreadIdle", SCHED_IDLE);
}

// setThreadNormal(tid) -> true, or false when refused: leaving SCHED_IDLE needs CAP_SYS_NICE (or
// an RLIMIT_NICE that allows the thread's nice value).
Napi::Value SetThreadNormal(const Napi::CallbackInfo& info) {
  return SetThreadPolicy(info, "setThreadNormal", SCHED_OTHER);
}

}  // namespace podspan_addon
