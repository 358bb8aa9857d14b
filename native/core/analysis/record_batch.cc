#include "analysis/record_batch.h"

#include "analysis/json_records.h"
#include "analysis/record_rows.h"

namespace podspan {

ArenaText CompactBatch::keep(std::string_view s) {
  const ArenaText t{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(s.size())};
  arena_.append(s.data(), s.size());
  return t;
}

void CompactBatch::add(const FlowNumbers& n, const FlowTexts& t) {
  flows_.push_back(CompactFlow{n, keep(t.close_reason), keep(t.app)});
}

void CompactBatch::add(const HttpNumbers& n, const HttpTexts& t) {
  http_.push_back(CompactHttp{n, keep(t.version), keep(t.method), keep(t.host), keep(t.path), keep(t.route), keep(t.note)});
}

void CompactBatch::add(const DnsNumbers& n, const DnsTexts& t) {
  dns_.push_back(CompactDns{n, keep(t.proto), keep(t.query)});
}

void CompactBatch::add(const AlertRecord& r) {
  append_json(alerts_, r);
  ++alert_count_;
}

void CompactBatch::reserve(const Sizes& s) {
  flows_.reserve(s.flows);
  http_.reserve(s.http);
  dns_.reserve(s.dns);
  arena_.reserve(s.arena);
  alerts_.reserve(s.alerts);
}

void CompactBatch::clear() {
  flows_.clear();
  http_.clear();
  dns_.clear();
  arena_.clear();
  alerts_.clear();
  alert_count_ = 0;
}

template <typename Json, typename Rows>
void CompactBatch::format_records(Json& flows, Json& http, Json& dns, Rows& flow_rows, Rows& http_rows, Rows& dns_rows) const {
  for (const CompactFlow& c : flows_) {
    LineSpans spans;  // fresh for each line: a null leaves its span unset (kNoSpan)
    append_json(flows, c.n, FlowTexts{text(c.close_reason), text(c.app)}, &spans);
    append_row(flow_rows, c.n, spans, flows.data());
  }
  for (const CompactHttp& c : http_) {
    LineSpans spans;
    const HttpTexts t{text(c.version), text(c.method), text(c.host), text(c.path), text(c.route), text(c.note)};
    append_json(http, c.n, t, &spans);
    append_row(http_rows, c.n, spans, http.data());
  }
  for (const CompactDns& c : dns_) {
    LineSpans spans;
    append_json(dns, c.n, DnsTexts{text(c.proto), text(c.query)}, &spans);
    append_row(dns_rows, c.n, spans, dns.data());
  }
}

void CompactBatch::format(RecordSinks& out) const {
  format_records(out.flows, out.http, out.dns, out.flow_rows, out.http_rows, out.dns_rows);
  out.alerts.append(alerts_.data(), alerts_.size());
}

void CompactBatch::format(RecordBatch& out) const {
  out.clear();
  StringAppender flows(out.flows), http(out.http), dns(out.dns);
  format_records(flows, http, dns, out.flow_rows, out.http_rows, out.dns_rows);
  out.alerts = alerts_;
  const RecordBatch::Counts n = counts();
  out.flow_count = n.flows;
  out.http_count = n.http;
  out.dns_count = n.dns;
  out.alert_count = n.alerts;
}

}  // namespace podspan
