// Records on their way to JavaScript, in two forms. A CompactBatch is what the capture thread
// fills: each flow, HTTP and DNS record's numbers as they are (records.h: FlowNumbers, ...) and
// its strings copied into one per-batch arena, so adding a record costs a few small copies and
// no allocation once the batch's buffers have grown. format() writes it as a RecordBatch (the
// JSON lines and fixed rows JavaScript receives) on the consumer's thread, byte for byte what
// formatting each record where it was made gives (json_records.h, record_rows.h). Alerts are
// few and already formatted when added.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/records.h"
#include "common/byte_sink.h"

namespace podspan {

// The batch as JavaScript receives it.
struct RecordBatch {
  std::string flows, http, dns, alerts;  // complete JSON lines
  std::string flow_rows, http_rows, dns_rows;  // one fixed row per line (record_rows.h)
  uint64_t flow_count = 0, http_count = 0, dns_count = 0, alert_count = 0;
  bool empty() const { return flow_count + http_count + dns_count + alert_count == 0; }
  void clear() {
    flows.clear();
    http.clear();
    dns.clear();
    alerts.clear();
    flow_rows.clear();
    http_rows.clear();
    dns_rows.clear();
    flow_count = http_count = dns_count = alert_count = 0;
  }
  struct Counts {
    uint64_t flows, http, dns, alerts;
  };
  Counts counts() const { return {flow_count, http_count, dns_count, alert_count}; }
};

// Where format() writes a batch: the JSON lines of each kind and the rows of each kind, each
// sink holding that batch only (rows' spans are offsets from its start).
struct RecordSinks {
  ByteSink &flows, &http, &dns, &alerts;
  ByteSink &flow_rows, &http_rows, &dns_rows;
};

// Where a string of a compact record is in its batch's arena.
struct ArenaText {
  uint32_t offset = 0, len = 0;
};

struct CompactFlow {
  FlowNumbers n;
  ArenaText close_reason, app;
};
struct CompactHttp {
  HttpNumbers n;
  ArenaText version, method, host, path, route, note;
};
struct CompactDns {
  DnsNumbers n;
  ArenaText proto, query;
};

class CompactBatch {
 public:
  void add(const FlowNumbers& n, const FlowTexts& t);
  void add(const HttpNumbers& n, const HttpTexts& t);
  void add(const DnsNumbers& n, const DnsTexts& t);
  void add(const AlertRecord& r);

  uint64_t record_count() const { return flows_.size() + http_.size() + dns_.size() + alert_count_; }
  bool empty() const { return record_count() == 0; }
  // What the queue's byte bound counts: the compact records, their strings and the alerts' lines.
  size_t bytes() const {
    return flows_.size() * sizeof(CompactFlow) + http_.size() * sizeof(CompactHttp) + dns_.size() * sizeof(CompactDns) +
           arena_.size() + alerts_.size();
  }
  RecordBatch::Counts counts() const { return {flows_.size(), http_.size(), dns_.size(), alert_count_}; }
  // How much each buffer holds; reserve(sizes of a batch just handed over) gives the next one
  // room at once instead of growing its buffers step by step.
  struct Sizes {
    size_t flows = 0, http = 0, dns = 0, arena = 0, alerts = 0;
  };
  Sizes sizes() const { return {flows_.size(), http_.size(), dns_.size(), arena_.size(), alerts_.size()}; }
  void reserve(const Sizes& s);
  void clear();

  // Replaces out's contents with the JSON lines and rows of every record (out's buffers keep
  // their capacity: a consumer that reuses one RecordBatch allocates nothing once warm).
  void format(RecordBatch& out) const;
  // Appends them to the sinks (empty ones, for the rows' spans to start at 0).
  void format(RecordSinks& out) const;

 private:
  ArenaText keep(std::string_view s);
  template <typename Json, typename Rows>
  void format_records(Json& flows, Json& http, Json& dns, Rows& flow_rows, Rows& http_rows, Rows& dns_rows) const;
  std::string_view text(ArenaText t) const { return std::string_view(arena_.data() + t.offset, t.len); }

  std::vector<CompactFlow> flows_;
  std::vector<CompactHttp> http_;
  std::vector<CompactDns> dns_;
  std::string arena_;   // every string of the records above, back to back
  std::string alerts_;  // alerts' JSON lines
  uint64_t alert_count_ = 0;
};

}  // namespace podspan
