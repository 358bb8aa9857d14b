// libFuzzer target: rows_to_json (Contract 1's rows read back, as the tests and the extractor's
// fuzz target read them) on arbitrary bytes. The first two bytes give the batch's data size. It
// must not crash or read outside the input; what it accepts must end in a newline per row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shadow/exchange_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t data_bytes = data[0] | (static_cast<size_t>(data[1]) << 8);
  const std::string_view meta(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string out, error;
  if (podspan::rows_to_json(meta, data_bytes, out, &error)) {
    if (!meta.empty() && (out.empty() || out.back() != '\n')) __builtin_trap();
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}
