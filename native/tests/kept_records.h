// A RecordSink for tests: keeps every record it is given, by kind.
#pragma once

#include <vector>

#include "analysis/records.h"

namespace podspan_test {

struct KeptRecords : podspan::RecordSink {
  std::vector<podspan::FlowRecord> flows;
  std::vector<podspan::HttpRecord> http_records;
  std::vector<podspan::DnsRecord> dns_records;
  std::vector<podspan::AlertRecord> alerts;
  void flow(const podspan::FlowRecord& r) override { flows.push_back(r); }
  void http(const podspan::HttpRecord& r) override { http_records.push_back(r); }
  void dns(const podspan::DnsRecord& r) override { dns_records.push_back(r); }
  void alert(const podspan::AlertRecord& r) override { alerts.push_back(r); }
};

}  // namespace podspan_test
