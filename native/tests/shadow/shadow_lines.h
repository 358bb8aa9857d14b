// Reading what the shadow extractor wrote, for tests: the batches' rows as JSON lines
// (rows_to_json), one field's raw JSON text, and the bytes a [off, len] field points at in the
// batch's data.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "shadow/exchange_queue.h"
#include "shadow/exchange_rows.h"

namespace shadow_test {

struct Line {
  std::string json;
  std::string data;  // a copy of the batch's data (lines outlive the batches)
};

struct Lines {
  std::vector<podspan::ExchangeBatch> batches;
  std::vector<Line> lines;
  // Every row of every batch the queue holds (forcing out the current one first), as a JSON
  // line; a batch whose rows do not read back gives one line saying why.
  void drain(podspan::ExchangeQueue& q) {
    q.maybe_push(true);
    podspan::ExchangeBatch b;
    while (q.take(b)) batches.push_back(std::move(b));
    lines.clear();
    for (const auto& batch : batches) {
      std::string text, error;
      if (!podspan::rows_to_json(batch.meta, batch.data.size(), text, &error)) text += "<unreadable rows: " + error + ">\n";
      size_t at = 0;
      while (at < text.size()) {
        const size_t nl = text.find('\n', at);
        lines.push_back({text.substr(at, nl - at), batch.data});
        at = nl + 1;
      }
    }
  }
  std::vector<Line> of_type(const std::string& t) const {
    std::vector<Line> out;
    for (const Line& l : lines) {
      if (l.json.compare(0, 7 + t.size(), "{\"t\":\"" + t + "\"") == 0) out.push_back(l);
    }
    return out;
  }
  // "reason:count,..." of the skip lines, in order.
  std::string skips() const {
    std::string s;
    for (const Line& l : of_type("skip")) {
      const size_t r = l.json.find("\"reason\":\"") + 10;
      s += l.json.substr(r, l.json.find('"', r) - r) + ",";
    }
    return s;
  }
};

// The raw JSON text of the first `"name":` at or after `from` (a value up to the next ',' or '}'
// outside brackets and strings).
inline std::string field(const std::string& json, const std::string& name, size_t from = 0) {
  const std::string k = "\"" + name + "\":";
  const size_t at = json.find(k, from);
  if (at == std::string::npos) return "<missing " + name + ">";
  size_t i = at + k.size(), depth = 0;
  bool in_str = false;
  const size_t start = i;
  for (; i < json.size(); ++i) {
    const char c = json[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) break;
  }
  return json.substr(start, i - start);
}

// The bytes of the [off, len] field `name` (searched from `from`).
inline std::string bytes(const Line& l, const std::string& name, size_t from = 0) {
  const std::string v = field(l.json, name, from);
  unsigned long off = 0, len = 0;
  if (std::sscanf(v.c_str(), "[%lu,%lu]", &off, &len) != 2) return "<bad " + v + ">";
  if (off + len > l.data.size()) return "<out of range>";
  return l.data.substr(off, len);
}

inline size_t resp_at(const Line& l) { return l.json.find("\"resp\":"); }

}  // namespace shadow_test
