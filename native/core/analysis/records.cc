#include "analysis/records.h"

namespace podspan {

void RecordSink::http_parts(const HttpNumbers& n, const HttpTexts& t) {
  thread_local HttpRecord r;  // reused: its strings keep their capacity
  static_cast<HttpNumbers&>(r) = n;
  r.version.assign(t.version);
  r.method.assign(t.method);
  r.host.assign(t.host);
  r.path.assign(t.path);
  r.route.assign(t.route);
  r.note.assign(t.note);
  http(r);
}

const char* conn_state_name(ConnState s) {
  switch (s) {
    case ConnState::kEstablished: return "established";
    case ConnState::kRejected: return "rejected";
    case ConnState::kSynUnanswered: return "syn_unanswered";
    case ConnState::kReset: return "reset";
    case ConnState::kClosed: return "closed";
    case ConnState::kTimeout: return "timeout";
    case ConnState::kMidstream: return "midstream";
  }
  return "midstream";
}

const char* alert_kind_name(AlertKind k) {
  switch (k) {
    case AlertKind::kSynFlood: return "syn_flood";
    case AlertKind::kPortScan: return "port_scan";
    case AlertKind::kRequestSurge: return "request_surge";
    case AlertKind::kErrorSurge: return "error_surge";
    case AlertKind::kNoisyClient: return "noisy_client";
  }
  return "syn_flood";
}

const char* clear_cause_name(ClearCause c) {
  switch (c) {
    case ClearCause::kQuiet: return "quiet";
    case ClearCause::kEvicted: return "evicted";
    case ClearCause::kCaptureEnd: return "capture_end";
    case ClearCause::kNone: break;
  }
  return nullptr;
}

const char* alert_unit(AlertKind k) {
  switch (k) {
    case AlertKind::kSynFlood: return "syn/s";
    case AlertKind::kPortScan: return "targets/s";
    case AlertKind::kRequestSurge: return "req/s";
    case AlertKind::kErrorSurge: return "errors/s";
    case AlertKind::kNoisyClient: return "share";
  }
  return "syn/s";
}

}  // namespace podspan
