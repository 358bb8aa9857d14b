#include "shadow/extractor.h"

#include <algorithm>
#include <cstring>

#include "analysis/app_analyzer.h"
#include "analysis/json_records.h"
#include "protocols/http2.h"

namespace podspan {

namespace {

enum class Mode : uint8_t { kUndecided, kHttp1, kRaw, kOff };

uint64_t since(uint64_t later, uint64_t earlier) { return later >= earlier ? later - earlier : 0; }

uint64_t endpoint_hash(const Endpoint& e) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < 16; ++i) h = (h ^ e.addr[i]) * 0x100000001b3ull;
  h = (h ^ (e.port & 0xff)) * 0x100000001b3ull;
  h = (h ^ (e.port >> 8)) * 0x100000001b3ull;
  return h;
}

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// ---- JSON line pieces ----

void key(std::string& m, const char* k) {
  m += ",\"";
  m += k;
  m += "\":";
}

void begin_line(std::string& m, const char* type, uint64_t conn) {
  m += "{\"t\":\"";
  m += type;
  m += "\",\"conn\":\"";
  m += std::to_string(conn);
  m += '"';
}

void str(std::string& m, const char* k, const char* s, size_t n) {
  key(m, k);
  append_json_string(m, s, n);
}
void str(std::string& m, const char* k, const std::string& s) { str(m, k, s.data(), s.size()); }

void num(std::string& m, const char* k, uint64_t v) {
  key(m, k);
  m += std::to_string(v);
}

void ms(std::string& m, const char* k, uint64_t ns) {
  key(m, k);
  append_ms(m, ns);
}

void boolean(std::string& m, const char* k, bool v) {
  key(m, k);
  m += v ? "true" : "false";
}

// [off, len] of bytes appended to the batch's data.
void slice(ExchangeBatch& b, const char* k, const char* p, size_t n) {
  key(b.meta, k);
  b.meta += '[';
  b.meta += std::to_string(b.data.size());
  b.meta += ',';
  b.meta += std::to_string(n);
  b.meta += ']';
  b.data.append(p, n);
}

void headers(std::string& m, const char* k, const Http1Content& c) {
  key(m, k);
  m += '[';
  bool first = true;
  for (const Http1HeaderSpan& h : c.headers) {
    if (!first) m += ',';
    first = false;
    m += '[';
    const std::string_view n = c.name(h), v = c.value(h);
    append_json_string(m, n.data(), n.size());
    m += ',';
    append_json_string(m, v.data(), v.size());
    m += ']';
  }
  m += ']';
}

void version(std::string& out, const Http1Message& m) {
  out.assign(1, static_cast<char>('0' + m.version_major % 10));
  out += '.';
  out += static_cast<char>('0' + m.version_minor % 10);
}

}  // namespace

const char* skip_reason_name(SkipReason r) {
  switch (r) {
    case SkipReason::kTls: return "tls";
    case SkipReason::kH2Midstream: return "h2-midstream";
    case SkipReason::kMethod: return "method";
    case SkipReason::kTooLarge: return "too_large";
    case SkipReason::kGap: return "gap";
    case SkipReason::kNotHttp: return "not_http";
    case SkipReason::kPercent: return "percent";
    case SkipReason::kH2: return "h2";
    case SkipReason::kQueueFull: return "queue_full";
    default: return "other";
  }
}

bool shadow_percent_selects(const StreamInfo& s, double percent) {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const uint64_t a = endpoint_hash(s.side[0]), b = endpoint_hash(s.side[1]);
  const uint64_t h = mix(std::min(a, b) * 0x9e3779b97f4a7c15ull + std::max(a, b));
  return static_cast<double>(h % 1000000) < percent * 10000;
}

bool looks_like_tls_client_hello(const uint8_t* d, uint32_t n) {
  // A handshake record (22) of TLS 1.x (3.x), its first message a client_hello (1).
  return n >= 1 && d[0] == 0x16 && (n < 2 || d[1] == 0x03) && (n < 6 || d[5] == 0x01);
}

// ---- per-connection state ----

struct ShadowHttp1Events : Http1Parser::Events {
  ShadowExtractor* x = nullptr;
  ShadowExtractor::Conn* c = nullptr;
  int role = 0;
  Http1Parser::Body on_head(const Http1Message& m) override;
  void on_message(const Http1Message& m) override;
};

struct ShadowExtractor::Pending {
  uint64_t seq = 0, start = 0, first_ts = 0, last_ts = 0, body_length = 0;
  bool complete = false, answered = false;
  int skip = -1;  // a SkipReason already counted: the exchange is dropped when its turn comes
  std::string method, target, host, version;
  Http1Content req;
  int status = 0;
  std::string resp_version;
  Http1Content resp;
  uint64_t resp_body_length = 0, resp_first_ts = 0, resp_last_ts = 0;
};

struct ShadowExtractor::Conn {
  bool open = false;
  uint64_t id = 0;
  StreamInfo info;
  int client_side = 0;
  bool side_known = false, seen_data = false, seen_client = false;
  Mode mode = Mode::kUndecided;
  bool announced = false;
  bool requests_stopped = false;  // no new requests are taken (gap, error, pipeline cap)
  bool stopped = false;           // nothing more is taken at all
  uint64_t seq = 0;
  ShadowHttp1Events events[2];
  std::unique_ptr<Http1Parser> http1[2];  // by role: requests, responses
  std::vector<Pending> pending;           // a ring: requests awaiting their response or their end
  size_t head = 0, count = 0, answered = 0;  // answered: leading entries with their response
  // raw turns
  std::string turn_req, turn_reply;
  uint64_t req_first_ts = 0, req_last_ts = 0, reply_first_ts = 0, reply_last_ts = 0;
  bool req_too_large = false, reply_truncated = false, in_reply = false;

  Pending& at(size_t i) { return pending[(head + i) % pending.size()]; }
};

Http1Parser::Body ShadowHttp1Events::on_head(const Http1Message& m) {
  if (role == 0) {
    x->request_head(*c, m);
    return Http1Parser::Body::kAsHeadersSay;
  }
  return x->response_head(*c, m);
}

void ShadowHttp1Events::on_message(const Http1Message& m) {
  if (role == 0) x->request_done(*c, m);
  else x->response_done(*c, m);
}

// ---- ShadowExtractor ----

ShadowExtractor::ShadowExtractor(ShadowOptions options, ExchangeQueue& out) : opt_(std::move(options)), out_(out) {
  if (opt_.max_pending_requests == 0) opt_.max_pending_requests = 1;
}

ShadowExtractor::~ShadowExtractor() = default;

ShadowExtractor::Conn& ShadowExtractor::conn(uint32_t slot) {
  if (slot >= conns_.size()) conns_.resize(std::max<size_t>(slot + 1, conns_.size() * 2));
  if (!conns_[slot]) {
    conns_[slot] = std::make_unique<Conn>();
    for (int r = 0; r < 2; ++r) {
      conns_[slot]->events[r].x = this;
      conns_[slot]->events[r].c = conns_[slot].get();
      conns_[slot]->events[r].role = r;
    }
  }
  return *conns_[slot];
}

bool ShadowExtractor::selected(const StreamInfo& s) const {
  if (!opt_.raw || opt_.server_ports.empty()) return true;
  for (uint16_t p : opt_.server_ports) {
    if (s.side[0].port == p || s.side[1].port == p) return true;
  }
  return false;
}

bool ShadowExtractor::method_wanted(const char* method) const {
  if (opt_.methods.empty()) return true;
  for (const std::string& m : opt_.methods) {
    if (m == method) return true;
  }
  return false;
}

void ShadowExtractor::on_open(const StreamInfo& s) {
  Conn& c = conn(s.slot);
  c.open = true;
  c.id = s.id;
  c.info = s;
  c.client_side = 0;
  c.side_known = c.seen_data = c.seen_client = false;
  c.mode = Mode::kUndecided;
  c.announced = c.requests_stopped = c.stopped = false;
  c.seq = 0;
  c.head = c.count = c.answered = 0;
  c.turn_req.clear();
  c.turn_reply.clear();
  c.req_too_large = c.reply_truncated = c.in_reply = false;
  if (!selected(s)) {
    c.mode = Mode::kOff;
    return;
  }
  if (!shadow_percent_selects(s, opt_.percent)) {
    skip(c, SkipReason::kPercent);
    c.mode = Mode::kOff;
  }
}

void ShadowExtractor::on_first_segment(const StreamInfo& s, int syn_from) {
  Conn& c = conn(s.slot);
  if (!c.open || c.seen_data) return;
  if (syn_from >= 0) {
    c.client_side = syn_from;
    c.side_known = true;
    return;
  }
  auto is_server = [&](uint16_t port) {
    return std::find(opt_.server_ports.begin(), opt_.server_ports.end(), port) != opt_.server_ports.end();
  };
  if (is_server(s.side[1].port)) {
    c.client_side = 0;
    c.side_known = true;
  } else if (is_server(s.side[0].port)) {
    c.client_side = 1;
    c.side_known = true;
  } else {
    // A guess the first HTTP/1 bytes may overturn: listening ports are the low ones.
    c.client_side = s.side[0].port >= s.side[1].port ? 0 : 1;
  }
}

void ShadowExtractor::skip(Conn& c, SkipReason r) {
  ++stats_.skipped[static_cast<size_t>(r)];
  ExchangeBatch& b = out_.current();
  begin_line(b.meta, "skip", c.id);
  b.meta += ",\"reason\":\"";
  b.meta += skip_reason_name(r);
  b.meta += "\",\"count\":1}\n";
  out_.line_done(false);
}

void ShadowExtractor::announce(Conn& c) {
  if (c.announced) return;
  c.announced = true;
  ++stats_.connections;
  const Endpoint& cl = c.info.side[c.client_side];
  const Endpoint& sv = c.info.side[1 - c.client_side];
  ExchangeBatch& b = out_.current();
  std::string& m = b.meta;
  begin_line(m, "open", c.id);
  key(m, "client");
  append_address(m, c.info.ip_version, cl.addr);
  num(m, "client_port", cl.port);
  key(m, "server");
  append_address(m, c.info.ip_version, sv.addr);
  num(m, "server_port", sv.port);
  ms(m, "ts_ms", c.info.first_ts);
  m += "}\n";
  out_.line_done(false);
}

void ShadowExtractor::decide(Conn& c, const uint8_t* data, uint32_t len) {
  if (looks_like_tls_client_hello(data, len)) {
    skip(c, SkipReason::kTls);
    c.mode = Mode::kOff;
    return;
  }
  if (opt_.raw) {
    c.mode = Mode::kRaw;
    announce(c);
    return;
  }
  if (Http2Parser::starts_with_preface(data, len)) {
    skip(c, SkipReason::kH2);  // HTTP/2 exchanges are not extracted yet
    c.mode = Mode::kOff;
    return;
  }
  if (looks_like_http1_request(data, len)) {
    c.mode = Mode::kHttp1;
    for (int r = 0; r < 2; ++r) {
      if (!c.http1[r]) c.http1[r] = std::make_unique<Http1Parser>(r == 0, c.events[r]);
      else c.http1[r]->reset(r == 0);
      c.http1[r]->capture_content(true, r == 0 ? opt_.max_request_bytes : opt_.max_body_bytes);
    }
    if (c.pending.size() != opt_.max_pending_requests) c.pending.resize(opt_.max_pending_requests);
    announce(c);
    return;
  }
  skip(c, Http2Parser::looks_like_frames(data, len) ? SkipReason::kH2Midstream : SkipReason::kNotHttp);
  c.mode = Mode::kOff;
}

void ShadowExtractor::on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  Conn& c = conn(s.slot);
  if (!c.open || c.mode == Mode::kOff || len == 0) return;
  if (!c.seen_data && !c.side_known && !opt_.raw) {
    // Picked up midstream with no port to go by: HTTP/1's first line says who is who.
    const bool from_client = dir == c.client_side;
    if ((from_client && looks_like_http1_response(data, len)) ||
        (!from_client && looks_like_http1_request(data, len) && !looks_like_http1_response(data, len))) {
      c.client_side = 1 - c.client_side;
    }
  }
  c.seen_data = true;
  const int role = dir == c.client_side ? 0 : 1;
  if (c.mode == Mode::kUndecided) {
    if (role == 1 && !opt_.raw) return;  // an answer to a request we did not see
    if (role == 1) {
      c.mode = Mode::kRaw;  // the server speaks first (a greeting): its own turn
      announce(c);
    } else {
      decide(c, data, len);
      if (c.mode == Mode::kOff) return;
    }
  }
  if (role == 0) c.seen_client = true;
  if (c.stopped) return;
  if (c.mode == Mode::kRaw) raw_data(c, role, data, len, ts);
  else feed_http1(c, role, offset, data, len, ts);
}

void ShadowExtractor::on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) {
  Conn& c = conn(s.slot);
  if (!c.open || c.mode == Mode::kOff || c.stopped) return;
  const int role = dir == c.client_side ? 0 : 1;
  if (c.mode == Mode::kUndecided) {
    c.mode = Mode::kOff;  // no clean start
    return;
  }
  if (c.mode == Mode::kRaw) {
    // The turn in progress lost bytes; later turns would replay a broken conversation.
    if (!c.turn_req.empty() || c.in_reply) skip(c, SkipReason::kGap);
    c.turn_req.clear();
    c.turn_reply.clear();
    c.in_reply = false;
    c.stopped = true;
    return;
  }
  if (role == 0) {
    // The request being received is lost; requests already complete still get their answers.
    Http1Parser& p = *c.http1[0];
    if (p.in_message() && p.current().head_end != 0 && c.count > 0 && !c.requests_stopped) {
      Pending& last = c.at(c.count - 1);
      if (!last.complete && last.start == p.current().start) {
        last.complete = true;
        if (last.skip < 0) {
          last.skip = static_cast<int>(SkipReason::kGap);
          skip(c, SkipReason::kGap);
        }
      }
    }
    p.gap();
    c.requests_stopped = true;
  } else {
    // Responses lost: every request still waiting for one cannot be compared.
    for (size_t i = c.answered; i < c.count; ++i) {
      Pending& p = c.at(i);
      p.answered = true;
      if (p.skip < 0) {
        p.skip = static_cast<int>(SkipReason::kGap);
        skip(c, SkipReason::kGap);
      }
    }
    c.answered = c.count;
    c.http1[0]->gap();
    c.http1[1]->gap();
    c.requests_stopped = true;
  }
  flush_ready(c);
}

void ShadowExtractor::on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) {
  Conn& c = conn(s.slot);
  if (!c.open) return;
  c.open = false;
  if (c.mode == Mode::kHttp1) {
    c.http1[1]->close(ts);  // a response read until close ends here (and pairs)
    flush_ready(c);
    // What is left never got (all of) its response, or never ended.
    for (; c.count > 0; pop(c)) {
      Pending& p = c.at(0);
      if (p.skip >= 0) continue;
      if (!p.complete) {
        skip(c, SkipReason::kGap);
        continue;
      }
      p.answered = false;  // an answer cut short is no answer to compare
      write_http(c, p);
    }
  } else if (c.mode == Mode::kRaw && !c.stopped && (!c.turn_req.empty() || c.in_reply)) {
    raw_turn_done(c);
  }
  if (c.announced) {
    ExchangeBatch& b = out_.current();
    begin_line(b.meta, "close", c.id);
    ms(b.meta, "ts_ms", ts);
    b.meta += "}\n";
    out_.line_done(false);
  }
}

// ---- HTTP/1 ----

void ShadowExtractor::feed_http1(Conn& c, int role, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  if (role == 0 && c.requests_stopped) return;
  Http1Parser& p = *c.http1[role];
  p.feed(offset, data, len, ts);
  if (p.state() == Http1Parser::State::kError) {
    // Not HTTP/1 any more: what was complete still pairs; nothing new is taken.
    c.requests_stopped = true;
    if (role == 1) {
      c.http1[0]->gap();
      c.stopped = true;
    }
  }
}

void ShadowExtractor::request_head(Conn& c, const Http1Message& m) {
  if (c.requests_stopped) return;
  ++c.seq;
  if (c.count == c.pending.size()) {
    // More pipelined requests than we keep: the rest of the connection cannot be paired.
    skip(c, SkipReason::kQueueFull);
    c.requests_stopped = true;
    c.http1[0]->gap();
    return;
  }
  Pending& p = c.at(c.count++);
  p.seq = c.seq;
  p.start = m.start;
  p.first_ts = p.last_ts = m.first_ts;
  p.body_length = 0;
  p.complete = p.answered = false;
  p.skip = -1;
  p.method = m.method;
  p.target = m.target;
  p.host = m.host;
  version(p.version, m);
  p.status = 0;
  if (!method_wanted(m.method)) {
    p.skip = static_cast<int>(SkipReason::kMethod);
    skip(c, SkipReason::kMethod);
  }
}

void ShadowExtractor::request_done(Conn& c, const Http1Message& m) {
  for (size_t i = c.count; i-- > 0;) {
    Pending& p = c.at(i);
    if (p.complete || p.start != m.start) continue;
    p.complete = true;
    p.last_ts = m.last_ts;
    p.body_length = m.body_bytes;
    if (p.skip < 0) {
      if (m.content.body_truncated || m.truncated || m.content.headers_truncated) {
        p.skip = static_cast<int>(SkipReason::kTooLarge);
        skip(c, SkipReason::kTooLarge);
      } else {
        p.req = m.content;  // assignment: the entry's buffers keep their capacity
      }
    }
    break;
  }
  flush_ready(c);
}

Http1Parser::Body ShadowExtractor::response_head(Conn& c, const Http1Message& m) {
  if (c.answered >= c.count) return Http1Parser::Body::kAsHeadersSay;
  const Pending& req = c.at(c.answered);
  if (req.method == "HEAD") return Http1Parser::Body::kNone;
  if (req.method == "CONNECT" && m.status / 100 == 2) return Http1Parser::Body::kSwitch;
  return Http1Parser::Body::kAsHeadersSay;
}

void ShadowExtractor::response_done(Conn& c, const Http1Message& m) {
  if (m.status >= 100 && m.status < 200 && m.status != 101) return;  // interim: the final one follows
  if (c.answered >= c.count) return;  // answers a request we did not see
  Pending& p = c.at(c.answered);
  if (m.status == 101 || (p.method == "CONNECT" && m.status / 100 == 2)) {
    // Another protocol (WebSocket, h2c, a tunnel) from here: not replayable as HTTP/1.
    skip(c, SkipReason::kNotHttp);
    p.answered = p.complete = true;
    if (p.skip < 0) p.skip = static_cast<int>(SkipReason::kNotHttp);
    ++c.answered;
    c.requests_stopped = c.stopped = true;
    flush_ready(c);
    return;
  }
  p.answered = true;
  p.status = m.status;
  version(p.resp_version, m);
  if (p.skip < 0) p.resp = m.content;
  p.resp_body_length = m.body_bytes;
  p.resp_first_ts = m.first_ts;
  p.resp_last_ts = m.last_ts;
  ++c.answered;
  // An Upgrade request waits for its answer: refused, HTTP/1 goes on.
  Http1Parser& requests = *c.http1[0];
  if (requests.state() == Http1Parser::State::kUpgraded) requests.resume_after_upgrade();
  flush_ready(c);
}

void ShadowExtractor::flush_ready(Conn& c) {
  while (c.count > 0 && c.at(0).complete && c.at(0).answered) {
    Pending& p = c.at(0);
    if (p.skip < 0) write_http(c, p);
    pop(c);
  }
}

void ShadowExtractor::pop(Conn& c) {
  c.head = (c.head + 1) % c.pending.size();
  --c.count;
  if (c.answered > 0) --c.answered;
}

void ShadowExtractor::write_http(Conn& c, const Pending& p) {
  ++stats_.exchanges;
  ExchangeBatch& b = out_.current();
  std::string& m = b.meta;
  begin_line(m, "http", c.id);
  num(m, "seq", p.seq);
  ms(m, "ts_ms", p.first_ts);
  str(m, "method", p.method);
  str(m, "target", p.target);
  http_path(p.target, path_);
  http_route(path_, route_);
  str(m, "path", path_);
  str(m, "route", route_);
  str(m, "host", p.host);
  str(m, "version", p.version);
  headers(m, "headers", p.req);
  slice(b, "body", p.req.body.data(), p.req.body.size());
  num(m, "body_length", p.body_length);
  boolean(m, "body_truncated", false);  // a longer body is skipped "too_large"
  key(m, "resp");
  if (!p.answered) {
    m += "null,\"note\":\"no_response\"}\n";
  } else {
    m += "{\"status\":";
    m += std::to_string(p.status);
    str(m, "version", p.resp_version);
    headers(m, "headers", p.resp);
    slice(b, "body", p.resp.body.data(), p.resp.body.size());
    num(m, "body_length", p.resp_body_length);
    boolean(m, "body_truncated", p.resp.body_truncated);
    ms(m, "ts_ms", p.resp_first_ts);
    ms(m, "latency_ms", since(p.resp_first_ts, p.last_ts));
    ms(m, "duration_ms", since(p.resp_last_ts, p.last_ts));
    m += "}}\n";
  }
  out_.line_done(true);
}

// ---- raw ----

void ShadowExtractor::raw_data(Conn& c, int role, const uint8_t* data, uint32_t len, uint64_t ts) {
  const char* d = reinterpret_cast<const char*>(data);
  if (role == 0) {
    if (c.in_reply) raw_turn_done(c);  // the direction changed: the turn is over
    if (c.turn_req.empty() && !c.req_too_large) c.req_first_ts = ts;
    const size_t room = opt_.max_request_bytes - std::min(opt_.max_request_bytes, c.turn_req.size());
    if (len > room) c.req_too_large = true;
    c.turn_req.append(d, std::min<size_t>(len, room));
    c.req_last_ts = ts;
    return;
  }
  if (!c.in_reply) {
    c.in_reply = true;
    c.reply_first_ts = ts;
  }
  const size_t room = opt_.max_body_bytes - std::min(opt_.max_body_bytes, c.turn_reply.size());
  if (len > room) c.reply_truncated = true;
  c.turn_reply.append(d, std::min<size_t>(len, room));
  c.reply_last_ts = ts;
}

void ShadowExtractor::raw_turn_done(Conn& c) {
  ++c.seq;
  if (c.req_too_large) {
    skip(c, SkipReason::kTooLarge);
  } else {
    ++stats_.exchanges;
    const bool asked = !c.turn_req.empty();
    ExchangeBatch& b = out_.current();
    std::string& m = b.meta;
    begin_line(m, "turn", c.id);
    num(m, "seq", c.seq);
    ms(m, "ts_ms", asked ? c.req_first_ts : c.reply_first_ts);
    slice(b, "request", c.turn_req.data(), c.turn_req.size());
    slice(b, "reply", c.turn_reply.data(), c.turn_reply.size());
    ms(m, "latency_ms", asked && c.in_reply ? since(c.reply_first_ts, c.req_last_ts) : kUnknownNs);
    ms(m, "duration_ms", asked && c.in_reply ? since(c.reply_last_ts, c.req_last_ts) : kUnknownNs);
    boolean(m, "reply_truncated", c.reply_truncated);
    m += "}\n";
    out_.line_done(true);
  }
  c.turn_req.clear();
  c.turn_reply.clear();
  c.req_too_large = c.reply_truncated = c.in_reply = false;
}

}  // namespace podspan
