// Thread scheduling the JavaScript side cannot reach: Node sets nice values (os.setPriority) but
// not the scheduling class. SCHED_IDLE is the kernel's class for work that may run only when
// nothing else wants the CPU: a normal task that wakes takes the CPU from it at once.
#include <errno.h>
#include <sched.h>

#include "areas.h"

namespace podspan_addon {

// setThreadIdle(tid) -> true, or false when the kernel refused (the thread may have ended).
Napi::Value SetThreadIdle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreadIdle(tid): tid must be a number");
  const pid_t tid = static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value());
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = 0;
  return Napi::Boolean::New(env, sched_setscheduler(tid, SCHED_IDLE, &param) == 0);
#else
  (void)tid;
  return Napi::Boolean::New(env, false);
#endif
}

}  // namespace podspan_addon
