#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "check.h"

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : nullptr;
  // PODSPAN_TEST_SHARD=I/N: only every Nth case from the Ith (scripts/native-tests.js runs N such
  // processes side by side, one per CPU).
  unsigned shard = 0, shards = 1;
  if (const char* s = std::getenv("PODSPAN_TEST_SHARD")) {
    if (std::sscanf(s, "%u/%u", &shard, &shards) != 2 || shards == 0 || shard >= shards) {
      std::fprintf(stderr, "PODSPAN_TEST_SHARD=%s: expected I/N with I < N\n", s);
      return 2;
    }
  }
  const bool times = std::getenv("PODSPAN_TEST_TIMES") != nullptr;
  int passed = 0, failed = 0;
  unsigned index = 0;
  for (auto& c : check::registry()) {
    if (index++ % shards != shard) continue;
    if (only && std::strstr(c.name, only) == nullptr) continue;
    check::failures_in_case() = 0;
    const auto started = std::chrono::steady_clock::now();
    try {
      c.fn();
    } catch (const std::exception& e) {
      check::fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
    }
    // PODSPAN_TEST_TIMES=1: each case's wall time on stderr, to find what makes a shard long.
    if (times) std::fprintf(stderr, "time %s %.3f s\n", c.name, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (check::failures_in_case() == 0) {
      ++passed;
    } else {
      ++failed;
      std::fprintf(stderr, "FAIL %s\n", c.name);
    }
  }
  std::printf("native: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
