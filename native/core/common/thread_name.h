#pragma once
// Threads named after their job, so `top -H`, `ps -T`, perf and /proc/PID/task/*/comm tell
// podspan's capture threads from Node's own (a name is at most 15 characters on Linux).
#if defined(__linux__)
#include <pthread.h>
#endif

namespace podspan {

inline void name_this_thread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace podspan
