#include "analysis/app_analyzer.h"

#include <algorithm>
#include <cstring>

#include "protocols/ascii_case.h"

namespace podspan {

namespace {

constexpr uint16_t kDnsPort = 53;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

bool is_id_segment(std::string_view s) {
  if (s.empty()) return false;
  const bool digits = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) return true;
  if (s.size() >= 8 && std::all_of(s.begin(), s.end(), is_hex)) return true;
  return is_uuid(s);
}

void version_of(const Http1Message& m, char (&out)[3]) {
  out[0] = static_cast<char>('0' + m.version_major % 10);
  out[1] = '.';
  out[2] = static_cast<char>('0' + m.version_minor % 10);
}

uint64_t since(uint64_t later, uint64_t earlier) { return later >= earlier ? later - earlier : 0; }

}  // namespace

bool looks_like_http1_request(const uint8_t* d, uint32_t n) {
  uint32_t i = 0;
  while (i < n && i < 24 && ((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_')) ++i;
  if (i == n) return i > 0 && i < 24;
  return i >= 3 && d[i] == ' ';
}

bool looks_like_http1_response(const uint8_t* d, uint32_t n) {
  static const char kHttp[] = "HTTP/1.";
  const uint32_t m = std::min<uint32_t>(n, 7);
  return m >= 4 && std::memcmp(d, kHttp, m) == 0;
}

std::string_view http_path(std::string_view target) {
  std::string_view t = target;
  // absolute-form (to a proxy): drop the scheme and authority.
  if (!t.empty() && t[0] != '/') {
    if (const size_t scheme = t.find("://"); scheme != std::string_view::npos && scheme < 10) {
      const size_t slash = t.find('/', scheme + 3);
      t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    }
  }
  // One pass: find_first_of("?#") looks each byte up in the set with a memchr of its own.
  size_t end = 0;
  while (end < t.size() && t[end] != '?' && t[end] != '#') ++end;
  return t.substr(0, end);
}

void http_path(std::string_view target, std::string& path) { path.assign(http_path(target)); }

void http_route(std::string_view path, std::string& route) {
  route.clear();
  size_t i = 0;
  while (i < path.size()) {
    const size_t slash = path.find('/', i);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view seg = path.substr(i, end - i);
    if (is_id_segment(seg)) route += "{id}";
    else route.append(seg);
    if (slash == std::string_view::npos) break;
    route += '/';
    i = slash + 1;
  }
}

// ---- per-connection state ----

enum class App : uint8_t { kUnknown, kHttp1, kH2, kDns, kH2Midstream, kOther };

struct AppConnEvents : Http1Parser::Events, Http2Parser::Events, DnsTcpFramer::Events {
  AppAnalyzer* a = nullptr;
  AppAnalyzer::Conn* c = nullptr;
  int role = 0;  // 0: the client's direction
  Http1Parser::Body on_head(const Http1Message& m) override;
  void on_message(const Http1Message& m) override;
  void on_stream(const Http2Stream& s, bool complete) override;
  void on_dns_message(const uint8_t* d, size_t n, uint64_t start, uint64_t end, uint64_t first_ts, uint64_t last_ts) override;
};

struct AppAnalyzer::Conn {
  bool open = false;
  uint64_t uid = 0;
  StreamInfo info;
  int client_side = 0;
  RecordEndpoints ends;
  App app = App::kUnknown;
  bool grpc = false;
  bool seen_data[2] = {false, false};  // by role
  bool stopped[2] = {false, false};    // by role: gap or error, nothing more is parsed
  bool gap[2] = {false, false};
  bool responses_lost = false;  // the response parser resynced after a gap: pairing must skip ahead
  bool tunnel = false;          // switched to a protocol we do not parse (WebSocket, CONNECT)
  // Server bytes that came before the client's first (detection waits for the client).
  std::string held;
  uint64_t held_offset = 0, held_ts = 0;
  bool holding = false;
  AppConnEvents events[2];
  std::unique_ptr<Http1Parser> http1[2];  // by role: requests, responses
  std::vector<PendingRequest> pending;    // a ring of requests awaiting their response
  size_t pending_head = 0, pending_count = 0;
  std::unique_ptr<Http2Parser> h2;
  std::unique_ptr<DnsTcpFramer> dns[2];
  struct TcpDnsQuery {
    uint16_t id;
    uint16_t qtype;
    uint64_t ts;
    std::string query;
  };
  std::vector<TcpDnsQuery> dns_pending;
  size_t dns_pending_count = 0;

  // i < pending.size(): a subtraction instead of a division per lookup (several per request).
  PendingRequest& pending_at(size_t i) {
    const size_t at = pending_head + i;
    return pending[at < pending.size() ? at : at - pending.size()];
  }
  void set_ends() {
    const Endpoint& cl = info.side[client_side];
    const Endpoint& sv = info.side[1 - client_side];
    ends.ip_version = info.ip_version;
    ends.vlan = info.vlan;
    std::memcpy(ends.client, cl.addr, 16);
    std::memcpy(ends.server, sv.addr, 16);
    ends.client_port = cl.port;
    ends.server_port = sv.port;
  }
};

struct AppAnalyzer::DnsEntry {
  bool used = false;
  RecordEndpoints ends;  // the querier as client
  uint16_t id = 0, qtype = 0;
  uint64_t ts = 0;
  std::string query;
};

Http1Parser::Body AppConnEvents::on_head(const Http1Message& m) {
  if (role == 0) {
    a->http1_request_head(*c, m);
    return Http1Parser::Body::kAsHeadersSay;
  }
  return a->http1_response_head(*c, m);
}

void AppConnEvents::on_message(const Http1Message& m) {
  if (role == 0) a->http1_request_done(*c, m);
  else a->http1_response_done(*c, m);
}

void AppConnEvents::on_stream(const Http2Stream& s, bool complete) { a->emit_h2(*c, s, complete); }

void AppConnEvents::on_dns_message(const uint8_t* d, size_t n, uint64_t, uint64_t, uint64_t first_ts, uint64_t) {
  a->tcp_dns_message(*c, role, d, n, first_ts);
}

// ---- AppAnalyzer ----

AppAnalyzer::AppAnalyzer(RecordSink& sink, AppAnalyzerLimits limits) : sink_(sink), limits_(limits) {
  if (limits_.max_pending_requests == 0) limits_.max_pending_requests = 1;
  size_t cap = 16;
  while (cap < size_t{limits_.max_dns_pending} * 2) cap *= 2;  // load factor at most 1/2
  dns_table_.resize(cap);
}

AppAnalyzer::~AppAnalyzer() = default;

AppAnalyzer::Conn& AppAnalyzer::conn(uint32_t slot) {
  if (slot >= conns_.size()) conns_.resize(std::max<size_t>(slot + 1, conns_.size() * 2));
  if (!conns_[slot]) {
    conns_[slot] = std::make_unique<Conn>();
    for (int r = 0; r < 2; ++r) {
      conns_[slot]->events[r].a = this;
      conns_[slot]->events[r].c = conns_[slot].get();
      conns_[slot]->events[r].role = r;
    }
  }
  return *conns_[slot];
}

void AppAnalyzer::on_open(const StreamInfo& s) {
  Conn& c = conn(s.slot);
  c.open = true;
  c.uid = s.id;
  c.info = s;
  c.client_side = 0;
  c.set_ends();
  c.app = App::kUnknown;
  c.grpc = false;
  for (int r = 0; r < 2; ++r) c.seen_data[r] = c.stopped[r] = c.gap[r] = false;
  c.responses_lost = c.tunnel = false;
  c.held.clear();
  c.holding = false;
  c.pending_head = c.pending_count = 0;
  c.dns_pending_count = 0;
}

void AppAnalyzer::set_client_side(uint32_t slot, int client_side) {
  Conn& c = conn(slot);
  if (c.seen_data[0] || c.seen_data[1]) return;  // roles are fixed once data flowed
  c.client_side = client_side ? 1 : 0;
  c.set_ends();
}

const char* AppAnalyzer::app_of(uint32_t slot) const {
  if (slot >= conns_.size() || !conns_[slot] || !conns_[slot]->open) return "";
  const Conn& c = *conns_[slot];
  switch (c.app) {
    case App::kHttp1: return "http";
    case App::kH2: return c.grpc ? "grpc" : "h2";
    case App::kH2Midstream: return "h2";
    case App::kDns: return "dns";
    default: return "";
  }
}

AppAnalyzerStats AppAnalyzer::stats() const { return stats_; }

void AppAnalyzer::start_http1(Conn& c) {
  c.app = App::kHttp1;
  for (int r = 0; r < 2; ++r) {
    if (!c.http1[r]) {
      c.http1[r] = std::make_unique<Http1Parser>(r == 0, c.events[r]);
      c.http1[r]->host_and_upgrade_only(true);  // records name no other header
    } else {
      c.http1[r]->reset(r == 0);
    }
  }
  if (c.pending.size() != limits_.max_pending_requests) c.pending.resize(limits_.max_pending_requests);
}

void AppAnalyzer::start_h2(Conn& c, uint64_t client_offset, uint64_t server_offset) {
  c.app = App::kH2;
  ++stats_.h2_connections;
  if (!c.h2) {
    // Both roles' events point at the same connection; HTTP/2 sees both directions at once.
    c.h2 = std::make_unique<Http2Parser>(c.events[0], limits_.max_h2_streams);
  } else {
    c.h2->reset();
  }
  c.h2->start(0, client_offset);
  c.h2->start(1, server_offset);
}

void AppAnalyzer::detect(Conn& c, int role, const uint8_t* data, uint32_t len, uint16_t server_port, uint16_t client_port) {
  if (role == 0) {
    if (Http2Parser::starts_with_preface(data, len)) return start_h2(c, 0, 0);
    if (looks_like_http1_request(data, len)) return start_http1(c);
  } else if (looks_like_http1_response(data, len)) {
    return start_http1(c);
  }
  if (server_port == kDnsPort || client_port == kDnsPort) {
    c.app = App::kDns;
    for (int r = 0; r < 2; ++r) {
      if (!c.dns[r]) c.dns[r] = std::make_unique<DnsTcpFramer>(c.events[r]);
      else c.dns[r]->reset();
    }
    if (c.dns_pending.size() != limits_.max_tcp_dns_pending) c.dns_pending.resize(limits_.max_tcp_dns_pending);
    return;
  }
  if (Http2Parser::looks_like_frames(data, len)) {
    c.app = App::kH2Midstream;
    ++stats_.skipped_h2_midstream;
    return;
  }
  c.app = App::kOther;
}

void AppAnalyzer::on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  Conn& c = conn(s.slot);
  if (!c.open || len == 0) return;
  if (!c.seen_data[0] && !c.seen_data[1]) {
    // Picked up midstream, side[0] may be the server: HTTP/1's first line says who is who.
    const bool from_client = dir == c.client_side;
    if ((from_client && looks_like_http1_response(data, len)) || (!from_client && looks_like_http1_request(data, len) && !looks_like_http1_response(data, len))) {
      c.client_side = 1 - c.client_side;
      c.set_ends();
    }
  }
  const int role = dir == c.client_side ? 0 : 1;
  if (c.app == App::kUnknown) {
    // Wait for the client's first bytes unless the server's say enough by themselves.
    if (role == 1 && !c.seen_data[0] && !looks_like_http1_response(data, len)) {
      if (c.held.size() + len <= limits_.max_held_bytes) {
        if (c.held.empty()) {
          c.held_offset = offset;
          c.held_ts = ts;
        }
        c.held.append(reinterpret_cast<const char*>(data), len);
        c.holding = true;
        c.seen_data[1] = true;
        return;
      }
      c.holding = false;  // a server that talks first and long: decide on its bytes
    }
    const uint8_t* d = data;
    uint32_t n = len;
    if (role == 1 && !c.held.empty()) {
      d = reinterpret_cast<const uint8_t*>(c.held.data());
      n = static_cast<uint32_t>(c.held.size());
    }
    detect(c, role, d, n, c.ends.server_port, c.ends.client_port);
    if (c.holding && role == 0) {
      // Replay the server's early bytes now that the parsers exist (after the client's).
      c.seen_data[0] = true;
      feed(c, 0, offset, data, len, ts);
      std::string held;
      held.swap(c.held);
      feed(c, 1, c.held_offset, reinterpret_cast<const uint8_t*>(held.data()), static_cast<uint32_t>(held.size()), c.held_ts);
      held.clear();
      c.held.swap(held);
      c.holding = false;
      return;
    }
    c.holding = false;
    c.held.clear();
  }
  c.seen_data[role] = true;
  feed(c, role, offset, data, len, ts);
}

void AppAnalyzer::feed(Conn& c, int role, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  if (c.stopped[role]) return;
  switch (c.app) {
    case App::kHttp1: {
      Http1Parser& p = *c.http1[role];
      if (p.state() == Http1Parser::State::kGap) {
        // After a gap, parsing starts again at a segment that begins a message (as tshark's does).
        const bool starts = role == 0 ? looks_like_http1_request(data, len) : looks_like_http1_response(data, len);
        if (!starts) break;
        p.reset(role == 0);
        ++stats_.http1_resyncs;
        if (role == 1) c.responses_lost = true;
      }
      p.feed(offset, data, len, ts);
      if (c.app == App::kH2) {
        // The response just parsed switched to HTTP/2: the rest of this segment is HTTP/2.
        forward_upgraded(c, role);
        break;
      }
      if (c.tunnel) {
        c.tunnel = false;
        c.http1[0]->reset(true);
        c.http1[1]->reset(false);
        break;
      }
      if (p.state() == Http1Parser::State::kError) {
        ++stats_.parse_errors;
        c.stopped[role] = true;
      }
      break;
    }
    case App::kH2: {
      c.h2->feed(role, offset, data, len, ts);
      if (c.h2->stopped(role)) {
        ++stats_.parse_errors;  // gaps stop it in on_gap, before any feed
        c.stopped[role] = true;
      }
      break;
    }
    case App::kDns:
      c.dns[role]->feed(offset, data, len, ts);
      break;
    default:
      break;
  }
}

void AppAnalyzer::on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) {
  Conn& c = conn(s.slot);
  if (!c.open) return;
  const int role = dir == c.client_side ? 0 : 1;
  if (c.app == App::kUnknown && role == 1 && c.holding) {
    c.holding = false;  // the held bytes are no start of anything now
    c.held.clear();
    c.app = App::kOther;
  }
  if (c.app == App::kUnknown) c.app = App::kOther;  // no clean start: nothing is recognised
  c.gap[role] = true;
  if (c.stopped[role]) return;
  switch (c.app) {
    case App::kHttp1: http1_gap(c, role); break;
    case App::kH2: c.h2->gap(role); break;
    case App::kDns: c.dns[role]->gap(); break;
    default: return;
  }
  ++stats_.gaps;
  c.stopped[role] = c.app != App::kHttp1;  // HTTP/1 resyncs at the next message start
}

void AppAnalyzer::http1_gap(Conn& c, int role) {
  Http1Parser& p = *c.http1[role];
  // A response whose body lost bytes still answered its request: recorded with what was seen.
  if (role == 1 && p.state() == Http1Parser::State::kParsing && p.in_message() && p.current().head_end != 0 &&
      p.current().status >= 200 && c.pending_count > 0) {
    Http1Message partial = p.current();
    partial.end = p.next_offset();
    emit_http1(c, c.pending_at(0), &partial, "gap");
    pop_pending(c);
  }
  p.gap();
}

// ---- HTTP/1 ----

void AppAnalyzer::http1_request_head(Conn& c, const Http1Message& m) {
  ++stats_.http_requests;
  const bool full = c.pending_count == c.pending.size();
  // Over the cap the request is recorded at once, without a response: the queue keeps its
  // order for the requests already in it.
  PendingRequest& p = full ? overflow_ : c.pending_at(c.pending_count++);
  p.first_ts = p.last_ts = m.first_ts;
  p.start = m.start;
  p.bytes = m.head_end - m.start;
  p.complete = false;
  p.method = m.method;
  p.method_id = m.method_id;
  p.host = m.host;
  p.target = m.target;
  version_of(m, p.version);
  if (full) {
    ++stats_.pending_dropped;
    emit_http1(c, p, nullptr, "queue_full");
  }
}

void AppAnalyzer::http1_request_done(Conn& c, const Http1Message& m) {
  // The request whose head came last and is not complete yet: pipelined requests complete in order.
  for (size_t i = 0; i < c.pending_count; ++i) {
    PendingRequest& p = c.pending_at(i);
    if (!p.complete && p.start == m.start) {
      p.complete = true;
      p.last_ts = m.last_ts;
      p.bytes = m.end - m.start;
      break;
    }
  }
}

Http1Parser::Body AppAnalyzer::http1_response_head(Conn& c, const Http1Message& m) {
  if (c.pending_count == 0) return Http1Parser::Body::kAsHeadersSay;
  const PendingRequest& req = c.pending_at(0);
  if (req.method_id == HTTP_HEAD) return Http1Parser::Body::kNone;
  if (req.method_id == HTTP_CONNECT && m.status / 100 == 2) return Http1Parser::Body::kSwitch;
  return Http1Parser::Body::kAsHeadersSay;
}

void AppAnalyzer::http1_response_done(Conn& c, const Http1Message& m) {
  ++stats_.http_responses;
  if (m.status >= 100 && m.status < 200 && m.status != 101) return;  // informational: the final one follows
  Http1Parser& requests = *c.http1[0];
  bool switched = m.status == 101;
  if (c.pending_count == 0) {
    ++stats_.unmatched_responses;
  } else if (m.status == 101 && starts_with_nocase(m.upgrade, "h2c")) {
    upgrade_to_h2(c, m);
    return;
  } else {
    if (c.responses_lost) {
      // Whole responses may have gone with the gap. Without pipelining (nearly every client)
      // a request is sent once the previous answer came, so this answers the newest request
      // sent before it; the older ones lost theirs (tshark pairs the same way).
      c.responses_lost = false;
      while (c.pending_count > 1 && c.pending_at(1).first_ts <= m.first_ts) {
        emit_http1(c, c.pending_at(0), nullptr, "gap");
        pop_pending(c);
      }
    }
    switched = switched || (c.pending_at(0).method_id == HTTP_CONNECT && m.status / 100 == 2);
    emit_http1(c, c.pending_at(0), &m, "");
    pop_pending(c);
  }
  if (switched) {
    // A tunnel or another protocol (WebSocket): nothing more to parse on this connection. The
    // parsers drop what they hold once they return (feed).
    c.stopped[0] = c.stopped[1] = true;
    c.tunnel = true;
    return;
  }
  // An Upgrade or CONNECT request waits for this answer: refused, HTTP/1 goes on.
  if (requests.state() == Http1Parser::State::kUpgraded) {
    requests.resume_after_upgrade();
    if (requests.state() == Http1Parser::State::kError) {
      ++stats_.parse_errors;
      c.stopped[0] = true;
    }
  }
}

void AppAnalyzer::upgrade_to_h2(Conn& c, const Http1Message& switching) {
  ++stats_.h2c_upgrades;
  PendingRequest& req = c.pending_at(0);
  Http1Parser& requests = *c.http1[0];
  // The client's HTTP/2 starts after its upgrading request, the server's after the 101.
  const uint64_t client_start = requests.state() == Http1Parser::State::kUpgraded ? requests.upgrade_offset()
                                                                                  : requests.next_offset();
  start_h2(c, client_start, switching.end);
  c.h2->upgraded_request(req.method, req.target, req.host, std::string(), req.bytes, req.first_ts, req.last_ts);
  pop_pending(c);
  // What the request parser already received past the switch goes to HTTP/2; the response
  // parser's comes when it returns (forward_upgraded).
  forward_upgraded(c, 0);
}

void AppAnalyzer::forward_upgraded(Conn& c, int role) {
  Http1Parser& p = *c.http1[role];
  if (p.state() == Http1Parser::State::kUpgraded && !p.held().empty()) {
    c.h2->feed(role, p.upgrade_offset(), reinterpret_cast<const uint8_t*>(p.held().data()), p.held().size(), p.held_ts());
  }
  if (c.h2->stopped(role)) c.stopped[role] = true;
}

void AppAnalyzer::pop_pending(Conn& c) {
  c.pending_head = c.pending_head + 1 < c.pending.size() ? c.pending_head + 1 : 0;
  --c.pending_count;
}

void AppAnalyzer::emit_http1(const Conn& c, const PendingRequest& p, const Http1Message* resp, const char* note) {
  HttpNumbers r;
  r.uid = c.uid;
  r.ends = c.ends;
  r.ts = p.first_ts;
  r.stream_id = 0;
  const std::string_view path = http_path(p.target);
  http_route(path, route_);
  r.status = resp ? resp->status : 0;
  r.grpc_status = -1;
  r.request_bytes = p.bytes;
  r.response_bytes = resp ? resp->end - resp->start : 0;
  r.latency = resp && p.complete ? since(resp->first_ts, p.last_ts) : kUnknownNs;
  r.duration = resp && p.complete ? since(resp->last_ts, p.last_ts) : kUnknownNs;
  ++stats_.http_records;
  if (!resp) ++stats_.no_response;
  // The strings as views: the queue copies them once, into its batch.
  sink_.http_parts(r, HttpTexts{p.version_text(), p.method, p.host, path, route_, note});
}

// ---- HTTP/2 ----

void AppAnalyzer::emit_h2(Conn& c, const Http2Stream& s, bool complete) {
  ++stats_.h2_streams;
  const bool grpc = starts_with_nocase(s.content_type, "application/grpc");
  if (grpc) {
    c.grpc = true;
    ++stats_.grpc_calls;
  }
  HttpNumbers r;
  r.uid = c.uid;
  r.ends = c.ends;
  r.ts = s.request_first_ts;
  r.stream_id = s.id;
  const std::string_view path = http_path(s.path);
  // gRPC's :path is /package.Service/Method: a route already.
  std::string_view route = path;
  if (!grpc) {
    http_route(path, route_);
    route = route_;
  }
  r.status = s.status;
  r.grpc_status = s.grpc_status;
  r.request_bytes = s.request_bytes;
  r.response_bytes = s.response_bytes;
  r.latency = s.response_seen ? since(s.response_first_ts, s.request_last_ts) : kUnknownNs;
  r.duration = s.response_ended ? since(s.response_last_ts, s.request_last_ts) : kUnknownNs;
  const char* note = "";
  if (s.reset) note = "reset";
  else if (!s.response_seen) note = c.gap[1] ? "gap" : "no_response";
  else if (!complete) note = c.gap[1] ? "gap" : "incomplete";
  ++stats_.http_records;
  if (!s.response_seen) ++stats_.no_response;
  sink_.http_parts(r, HttpTexts{"2", s.method, s.authority, path, route, note});
}

// ---- DNS ----

void AppAnalyzer::emit_dns(const RecordEndpoints& ends, uint64_t uid, const char* proto, uint64_t ts, uint16_t id,
                           const std::string& query, uint16_t qtype, int rcode, uint16_t answers, uint64_t latency) {
  DnsRecord& r = dns_;
  r.uid = uid;
  r.ends = ends;
  r.proto = proto;
  r.ts = ts;
  r.trans_id = id;
  r.query = query;
  r.qtype = qtype;
  r.rcode = rcode;
  r.answers = answers;
  r.latency = latency;
  ++stats_.dns_records;
  sink_.dns(r);
}

void AppAnalyzer::tcp_dns_message(Conn& c, int role, const uint8_t* data, size_t len, uint64_t first_ts) {
  if (parse_dns(data, len, dns_msg_) != DnsParse::kOk) {
    ++stats_.dns_malformed;
    return;
  }
  const DnsMessage& m = dns_msg_;
  if (!m.response) {
    ++stats_.dns_queries;
    if (c.dns_pending_count == c.dns_pending.size()) {
      ++stats_.dns_table_full;
      emit_dns(c.ends, c.uid, "tcp", first_ts, m.id, m.qname, m.qtype, -1, 0, kUnknownNs);
      return;
    }
    Conn::TcpDnsQuery& q = c.dns_pending[c.dns_pending_count++];
    q.id = m.id;
    q.qtype = m.qtype;
    q.ts = first_ts;
    q.query = m.qname;
    return;
  }
  ++stats_.dns_responses;
  for (size_t i = 0; i < c.dns_pending_count; ++i) {
    Conn::TcpDnsQuery& q = c.dns_pending[i];
    if (q.id != m.id) continue;
    emit_dns(c.ends, c.uid, "tcp", q.ts, q.id, q.query, q.qtype, m.rcode, m.answers, since(first_ts, q.ts));
    std::swap(q, c.dns_pending[--c.dns_pending_count]);
    return;
  }
  ++stats_.dns_unmatched_responses;
}

namespace {

bool same_flow(const RecordEndpoints& a, const RecordEndpoints& b) {
  return a.ip_version == b.ip_version && a.vlan == b.vlan && a.client_port == b.client_port && a.server_port == b.server_port &&
         std::memcmp(a.client, b.client, 16) == 0 && std::memcmp(a.server, b.server, 16) == 0;
}

size_t dns_hash(const RecordEndpoints& e, uint16_t id) {
  uint64_t h = 0xcbf29ce484222325ull ^ id ^ (uint64_t{e.client_port} << 16) ^ (uint64_t{e.server_port} << 32) ^ (uint64_t{e.vlan} << 48);
  for (int i = 0; i < 16; ++i) h = (h ^ e.client[i] ^ (uint64_t{e.server[i]} << 8)) * 0x100000001b3ull;
  h ^= h >> 29;
  return static_cast<size_t>(h * 0xbf58476d1ce4e5b9ull >> 7);
}

}  // namespace

void AppAnalyzer::on_udp(const RecordEndpoints& e, const uint8_t* payload, uint32_t len, uint64_t ts) {
  if (parse_dns(payload, len, dns_msg_) != DnsParse::kOk) {
    ++stats_.dns_malformed;
    return;
  }
  const DnsMessage& m = dns_msg_;
  RecordEndpoints ends = e;
  if (m.response) {  // seen from the server: the querier is the destination
    std::swap(ends.client, ends.server);
    std::swap(ends.client_port, ends.server_port);
  }
  const size_t mask = dns_table_.size() - 1;
  size_t i = dns_hash(ends, m.id) & mask;
  if (!m.response) {
    ++stats_.dns_queries;
    if (dns_used_ >= limits_.max_dns_pending) {
      ++stats_.dns_table_full;
      emit_dns(ends, 0, "udp", ts, m.id, m.qname, m.qtype, -1, 0, kUnknownNs);
      return;
    }
    while (dns_table_[i].used) {
      DnsEntry& old = dns_table_[i];
      if (old.id == m.id && same_flow(old.ends, ends)) {
        // A retransmitted query: the first one's time stands (as dig's retries are one lookup).
        return;
      }
      i = (i + 1) & mask;
    }
    DnsEntry& n = dns_table_[i];
    n.used = true;
    n.ends = ends;
    n.id = m.id;
    n.qtype = m.qtype;
    n.ts = ts;
    n.query = m.qname;
    ++dns_used_;
    return;
  }
  ++stats_.dns_responses;
  for (; dns_table_[i].used; i = (i + 1) & mask) {
    DnsEntry& q = dns_table_[i];
    if (q.id != m.id || !same_flow(q.ends, ends)) continue;
    emit_dns(q.ends, 0, "udp", q.ts, q.id, q.query, q.qtype, m.rcode, m.answers, since(ts, q.ts));
    dns_remove(i);
    return;
  }
  ++stats_.dns_unmatched_responses;
}

void AppAnalyzer::dns_remove(size_t i) {
  // Backward-shift deletion keeps every probe chain unbroken without tombstones: each later
  // entry of the run moves into the hole unless its home slot lies cyclically in (hole, j].
  const size_t mask = dns_table_.size() - 1;
  dns_table_[i].used = false;
  --dns_used_;
  size_t hole = i;
  for (size_t j = (i + 1) & mask; dns_table_[j].used; j = (j + 1) & mask) {
    const size_t home = dns_hash(dns_table_[j].ends, dns_table_[j].id) & mask;
    const bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!between) {
      std::swap(dns_table_[hole], dns_table_[j]);
      hole = j;
    }
  }
}

void AppAnalyzer::dns_expire(uint64_t now, bool all) {
  if (dns_used_ == 0) return;
  // A removal may shift a later entry into a slot already passed: scan again until clean.
  bool removed = true;
  while (removed && dns_used_ > 0) {
    removed = false;
    for (size_t i = 0; i < dns_table_.size(); ++i) {
      DnsEntry& q = dns_table_[i];
      if (!q.used || (!all && now < q.ts + limits_.dns_timeout_ns)) continue;
      ++stats_.dns_timeouts;
      emit_dns(q.ends, 0, "udp", q.ts, q.id, q.query, q.qtype, -1, 0, kUnknownNs);
      dns_remove(i);
      removed = true;
    }
  }
}

void AppAnalyzer::expire(uint64_t now) { dns_expire(now, false); }

void AppAnalyzer::finish(uint64_t now) { dns_expire(now, true); }

// ---- close ----

void AppAnalyzer::flush_conn(Conn& c) {
  switch (c.app) {
    case App::kHttp1: {
      c.http1[1]->close(0);  // a response read until close ends here (and pairs)
      const char* note = c.gap[1] ? "gap" : "no_response";
      for (; c.pending_count > 0; pop_pending(c)) emit_http1(c, c.pending_at(0), nullptr, note);
      break;
    }
    case App::kH2:
      c.h2->close();
      stats_.h2_streams_dropped += c.h2->stats().streams_dropped;
      break;
    case App::kDns:
      for (size_t i = 0; i < c.dns_pending_count; ++i) {
        const Conn::TcpDnsQuery& q = c.dns_pending[i];
        emit_dns(c.ends, c.uid, "tcp", q.ts, q.id, q.query, q.qtype, -1, 0, kUnknownNs);
      }
      c.dns_pending_count = 0;
      break;
    default:
      break;
  }
}

void AppAnalyzer::on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) {
  Conn& c = conn(s.slot);
  if (!c.open) return;
  flush_conn(c);
  c.open = false;
  c.held.clear();
}

}  // namespace podspan
