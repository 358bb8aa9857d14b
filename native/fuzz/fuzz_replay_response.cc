// libFuzzer target: ResponseReader (shadow replay's framing of the candidate's answers) on
// arbitrary bytes, cut into pieces the input chooses, with HEAD or not per request. A complete
// answer must keep at most the cap of its body, count at least what it kept, and carry a final
// status; after an error nothing is complete again on that connection.
#include <cstddef>
#include <cstdint>

#include "replay/response_reader.h"

namespace {
constexpr size_t kMaxBody = 64;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t rules = data[0], cut = static_cast<uint8_t>(data[1] | 1);
  data += 2;
  size -= 2;
  podspan::ResponseReader r(kMaxBody);
  unsigned requests = 0;
  r.expect(rules & 1);
  bool failed = false;
  auto check = [&](podspan::ResponseReader::Result res) {
    if (res == podspan::ResponseReader::Result::kError) failed = true;
    if (res != podspan::ResponseReader::Result::kComplete) return;
    if (failed) __builtin_trap();
    const auto& a = r.answer();
    if (a.status < 200 || a.content.body.size() > kMaxBody || a.body_bytes < a.content.body.size()) __builtin_trap();
    if (a.content.body_truncated != (a.body_bytes > kMaxBody)) __builtin_trap();
    ++requests;
    r.expect((rules >> (requests % 8)) & 1);
  };
  for (size_t at = 0; at < size; at += cut) check(r.feed(data + at, size - at < cut ? size - at : cut));
  check(r.finish());
  return 0;
}
