// libFuzzer target: rows_to_json (Contract 1's rows read back, as the tests and the extractor's
// fuzz target read them) and the native replay's row reader, head writer and answer check
// (read_http_row, append_request_head, SameAnswerCheck) on arbitrary bytes. The first two bytes
// give the batch's data size. Nothing may crash or read outside the input; what rows_to_json
// accepts must end in a newline per row; a head written must end with its blank line; an answer
// can be the same as production's only when production has one, of its status.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replay/request_head.h"
#include "replay/same_answer.h"
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
  podspan::ExchangeRowResponse resp;
  if (podspan::read_http_row(meta, req, &resp) && resp.present) {
    // A candidate's answer made of the row's own headers and the input's last bytes as its body.
    static podspan::SameAnswerCheck check(podspan::SameAnswerRules{{"date", "content-length"}});
    podspan::ResponseReader::Answer a;
    a.status = 200;
    for (const auto& [n, v] : resp.headers) {
      const uint32_t name_off = static_cast<uint32_t>(a.content.header_bytes.size());
      a.content.header_bytes.append(n);
      a.content.header_bytes.append(v);
      a.content.headers.push_back({name_off, static_cast<uint32_t>(n.size()), static_cast<uint32_t>(name_off + n.size()), static_cast<uint32_t>(v.size())});
    }
    const std::string_view body = meta.substr(meta.size() - std::min<size_t>(resp.body_len, meta.size()));
    a.content.body.assign(body);
    a.body_bytes = body.size();
    if (check.same(resp, body, a) && resp.status != 200) __builtin_trap();
  }
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
