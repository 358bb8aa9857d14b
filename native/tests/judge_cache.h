// The standard output of a judge's command (tshark over a corpus file), asked once per test run.
// scripts/native-tests.js runs the C++ tests twice (optimised, then under the sanitizers) and both
// ask tshark the same questions of the same files; tshark costs about half a second of CPU a call
// (most of the C++ tests' time). It sets PODSPAN_JUDGE_CACHE to a folder it empties first, and the
// second run reads what the first one saved there. The key holds the command and the file's size
// and modification time; a command that failed is never saved. Without the variable: no cache.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace podspan_test {

inline std::string judge_cache_path(const std::string& cmd, const std::string& file) {
  const char* dir = std::getenv("PODSPAN_JUDGE_CACHE");
  struct stat st {};
  if (dir == nullptr || *dir == '\0' || stat(file.c_str(), &st) != 0) return "";
  std::ostringstream key;
  key << cmd << '\n' << st.st_size << '\n' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : key.str()) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof(name), "/%016llx.out", static_cast<unsigned long long>(h));
  return dir + std::string(name);
}

/** Runs `cmd` (which reads `file`) through the shell, or reads its saved output. False if it failed. */
inline bool judge_output(const std::string& cmd, const std::string& file, std::string& out) {
  out.clear();
  const std::string cached = judge_cache_path(cmd, file);
  if (!cached.empty()) {
    std::ifstream in(cached, std::ios::binary);
    if (in) {
      std::ostringstream all;
      all << in.rdbuf();
      out = all.str();
      return true;
    }
  }
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return false;
  if (!cached.empty()) {
    // Whole or not at all: written aside, then renamed into place.
    // (one per process and thread: judge_in_parallel asks from several threads)
    const size_t thread = std::hash<std::thread::id>()(std::this_thread::get_id());
    const std::string tmp = cached + "." + std::to_string(getpid()) + "." + std::to_string(thread);
    std::ofstream(tmp, std::ios::binary) << out;
    std::rename(tmp.c_str(), cached.c_str());
  }
  return true;
}

/** Runs judge(i) for every i below n, one per CPU at a time: each is a tshark process, and the
 *  other test shards are often done long before the one holding a corpus-wide judge. judge must
 *  not CHECK (the counters are not shared safely): it only fills its own slot. */
template <class Judge>
void judge_in_parallel(size_t n, Judge judge) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) judge(i);
    });
  for (std::thread& t : threads) t.join();
}

}  // namespace podspan_test
