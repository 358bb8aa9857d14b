// A RecordSink decorator between the analysers and the record queue: HTTP records go to the
// Detector on their way, and with `records` off only alerts pass (flows, HTTP and DNS records
// are neither formatted nor queued: an agent that only wants alerts pays for none of them).
#pragma once

#include "analysis/records.h"
#include "detection/detector.h"

namespace podspan {

class DetectingSink : public RecordSink {
 public:
  DetectingSink(RecordSink& next, Detector& detector, bool records) : next_(next), detector_(detector), records_(records) {}
  void flow(const FlowRecord& r) override {
    if (records_) next_.flow(r);
  }
  void http(const HttpRecord& r) override { http_parts(r, texts_of(r)); }
  void http_parts(const HttpNumbers& n, const HttpTexts& t) override {
    detector_.on_http(n, t.route);
    if (records_) next_.http_parts(n, t);
  }
  void dns(const DnsRecord& r) override {
    if (records_) next_.dns(r);
  }
  void alert(const AlertRecord& r) override { next_.alert(r); }

 private:
  RecordSink& next_;
  Detector& detector_;
  bool records_;
};

}  // namespace podspan
