#pragma once
// Threads named after their job, so `top -H`, `ps -T`, perf and /proc/PID/task/*/comm tell
// podspan's capture threads from Node's own (a name is at most 15 characters on Linux).
#include <thread>
#if defined(__linux__)
#include <pthread.h>
#endif

namespace podspan {

// Named by the thread that started it, so the name is there before start() returns (JavaScript
// then lowers every thread of the process but these: it must not find one still unnamed).
inline void name_thread(std::thread& t, const char* name) {
#if defined(__linux__)
  pthread_setname_np(t.native_handle(), name);
#else
  (void)t;
  (void)name;
#endif
}

}  // namespace podspan
