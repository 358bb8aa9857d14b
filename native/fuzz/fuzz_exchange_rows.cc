// libFuzzer target: rows_to_json (Contract 1's rows read back, as the tests and the extractor's
// fuzz target read them) and the native replay's request reader and head writer
// (read_http_request_row, append_request_head) on arbitrary bytes. The first two bytes give the
// batch's data size. Nothing may crash or read outside the input; what rows_to_json accepts must
// end in a newline per row; a head written must end with its blank line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replay/request_head.h"
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
  podspan::ExchangeRowRequest req;
  if (podspan::read_http_request_row(meta, req)) {
    podspan::RequestHeadOptions o;
    o.marker_name = data[0] & 1 ? "x-podspan-shadow" : "";
    o.marker_value = "1";
    o.host_rewrite = data[0] & 2 ? "candidate" : "";
    o.default_host = "target:8080";
    std::string head;
    bool close = false;
    podspan::append_request_head(req, data_bytes, o, head, close);
    if (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) __builtin_trap();
  }
  return 0;
}
