#include "analysis/records.h"

namespace podspan {

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

}  // namespace podspan
