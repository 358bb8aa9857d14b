#include "shadow/extractor.h"

#include <algorithm>
#include <cstring>

#include "analysis/app_analyzer.h"
#include "analysis/json_records.h"
#include "protocols/ascii_case.h"
#include "protocols/http2.h"
#include "shadow/exchange_rows.h"

namespace podspan {

namespace {

enum class Mode : uint8_t { kUndecided, kHttp1, kH2, kRaw, kOff };

// Pending::skip of an exchange already written (past every SkipReason).
constexpr int kWritten = static_cast<int>(SkipReason::kCount);

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

// A header list: its count, then name and value of each.
void headers(ExchangeRowWriter& w, const Http1Content& c) {
  w.u32(static_cast<uint32_t>(c.headers.size()));
  for (const Http1HeaderSpan& h : c.headers) w.str(c.name(h)).str(c.value(h));
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

struct ShadowH2Events : Http2Parser::Events {
  ShadowExtractor* x = nullptr;
  ShadowExtractor::Conn* c = nullptr;
  void on_stream(const Http2Stream& s, bool complete) override;
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
  ShadowH2Events h2_events;
  std::unique_ptr<Http2Parser> h2;
  uint64_t h2_dropped_before = 0;
  bool gap[2] = {false, false};     // by role: bytes went missing
  bool resync[2] = {false, false};  // by role: HTTP/1 starts again at a segment that begins a message
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

void ShadowH2Events::on_stream(const Http2Stream& s, bool) { x->h2_stream(*c, s); }

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
    conns_[slot]->h2_events.x = this;
    conns_[slot]->h2_events.c = conns_[slot].get();
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
  c.gap[0] = c.gap[1] = c.resync[0] = c.resync[1] = false;
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

void ShadowExtractor::skip(Conn& c, SkipReason r, uint64_t count) {
  stats_.skipped[static_cast<size_t>(r)] += count;
  ExchangeRowWriter(out_.current(), ExchangeRowKind::kSkip, c.id).str(skip_reason_name(r)).num(static_cast<double>(count)).end();
  out_.row_done(false);
}

void ShadowExtractor::announce(Conn& c) {
  if (c.announced) return;
  c.announced = true;
  ++stats_.connections;
  const Endpoint& cl = c.info.side[c.client_side];
  const Endpoint& sv = c.info.side[1 - c.client_side];
  // The addresses as text, without the quotes append_address writes for JSON.
  append_address(address_[0].assign(""), c.info.ip_version, cl.addr);
  append_address(address_[1].assign(""), c.info.ip_version, sv.addr);
  const auto text = [](const std::string& quoted) { return std::string_view(quoted).substr(1, quoted.size() - 2); };
  ExchangeRowWriter(out_.current(), ExchangeRowKind::kOpen, c.id).str(text(address_[0])).num(cl.port).str(text(address_[1])).num(sv.port).ms(c.info.first_ts).end();
  out_.row_done(false);
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
    start_h2(c, 0, 0);
    announce(c);
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
  else if (c.mode == Mode::kH2) c.h2->feed(role, offset, data, len, ts);
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
  c.gap[role] = true;
  if (c.mode == Mode::kH2) {
    c.h2->gap(role);  // HPACK state is lost: streams still open end at the close, counted there
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
    c.resync[0] = true;
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
    c.http1[1]->gap();
    c.resync[1] = true;
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
      write_http(c, p, p.resp);
    }
  } else if (c.mode == Mode::kH2) {
    c.h2->close();  // every stream still open comes out now
    // Streams past the parser's concurrent-stream cap were never tracked.
    const uint64_t dropped = c.h2->stats().streams_dropped - c.h2_dropped_before;
    if (dropped > 0) skip(c, SkipReason::kQueueFull, dropped);
  } else if (c.mode == Mode::kRaw && !c.stopped && (!c.turn_req.empty() || c.in_reply)) {
    raw_turn_done(c);
  }
  if (c.announced) {
    ExchangeRowWriter(out_.current(), ExchangeRowKind::kClose, c.id).ms(ts).end();
    out_.row_done(false);
  }
}

// ---- HTTP/1 ----

void ShadowExtractor::feed_http1(Conn& c, int role, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) {
  if (role == 0 && c.requests_stopped) return;
  Http1Parser& p = *c.http1[role];
  if (c.resync[role]) {
    // After a gap, parsing starts again at a segment that begins a message (as tshark's does);
    // response_done drops answers to requests the gap took.
    if (!(role == 0 ? looks_like_http1_request(data, len) : looks_like_http1_response(data, len))) return;
    p.reset(role == 0);
    c.resync[role] = false;
  }
  p.feed(offset, data, len, ts);
  if (c.mode == Mode::kH2) {
    // The response just parsed switched to HTTP/2 (h2c): what followed the 101 is HTTP/2.
    if (p.state() == Http1Parser::State::kUpgraded && !p.held().empty()) {
      c.h2->feed(role, p.upgrade_offset(), reinterpret_cast<const uint8_t*>(p.held().data()), p.held().size(), p.held_ts());
    }
    return;
  }
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
  // An answer that began before the request waiting for one answers a request a gap took (an
  // answer never starts before its request).
  const bool lost = c.answered >= c.count || (c.gap[0] && m.first_ts < c.at(c.answered).first_ts);
  if (lost) {
    if (c.gap[0]) skip(c, SkipReason::kGap);  // else: it answers a request from before the capture
    return;
  }
  Pending& p = c.at(c.answered);
  if (m.status == 101 && c.answered == 0 && p.complete && starts_with_nocase(m.upgrade, "h2c")) {
    upgrade_to_h2(c, p, m);
    return;
  }
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
  p.resp_body_length = m.body_bytes;
  p.resp_first_ts = m.first_ts;
  p.resp_last_ts = m.last_ts;
  if (p.skip < 0) {
    if (c.answered == 0 && p.complete) {
      // Its turn to go out (the usual case): written from the parser's message, not copied first.
      write_http(c, p, m.content);
      p.skip = kWritten;
    } else {
      p.resp = m.content;
    }
  }
  ++c.answered;
  // An Upgrade request waits for its answer: refused, HTTP/1 goes on.
  Http1Parser& requests = *c.http1[0];
  if (requests.state() == Http1Parser::State::kUpgraded) requests.resume_after_upgrade();
  flush_ready(c);
}

void ShadowExtractor::flush_ready(Conn& c) {
  while (c.count > 0 && c.at(0).complete && c.at(0).answered) {
    Pending& p = c.at(0);
    if (p.skip < 0) write_http(c, p, p.resp);
    pop(c);
  }
}

void ShadowExtractor::pop(Conn& c) {
  c.head = (c.head + 1) % c.pending.size();
  --c.count;
  if (c.answered > 0) --c.answered;
}

void ShadowExtractor::write_http(Conn& c, const Pending& p, const Http1Content& resp) {
  ++stats_.exchanges;
  http_path(p.target, path_);
  http_route(path_, route_);
  ExchangeRowWriter w(out_.current(), ExchangeRowKind::kHttp, c.id);
  w.num(static_cast<double>(p.seq)).ms(p.first_ts).str(p.method).str(p.target).str(path_).str(route_).str(p.host).str(p.version);
  headers(w, p.req);
  // A longer body is skipped "too_large": never truncated here.
  w.slice(p.req.body.data(), p.req.body.size()).num(static_cast<double>(p.body_length)).flag(false);
  if (!p.answered) {
    w.flag(false).str("no_response");
  } else {
    w.flag(true).num(p.status).str(p.resp_version);
    headers(w, resp);
    w.slice(resp.body.data(), resp.body.size()).num(static_cast<double>(p.resp_body_length)).flag(resp.body_truncated);
    w.ms(p.resp_first_ts).ms(since(p.resp_first_ts, p.last_ts)).ms(since(p.resp_last_ts, p.last_ts));
  }
  w.end();
  out_.row_done(true);
}

// ---- HTTP/2 ----

void ShadowExtractor::start_h2(Conn& c, uint64_t client_offset, uint64_t server_offset) {
  c.mode = Mode::kH2;
  if (!c.h2) c.h2 = std::make_unique<Http2Parser>(c.h2_events);
  else c.h2->reset();
  c.h2->capture_content(true, opt_.max_request_bytes, opt_.max_body_bytes);
  c.h2_dropped_before = c.h2->stats().streams_dropped;  // the parser's counters span connections
  c.h2->start(0, client_offset);
  c.h2->start(1, server_offset);
}

void ShadowExtractor::upgrade_to_h2(Conn& c, Pending& req, const Http1Message& switching) {
  Http1Parser& requests = *c.http1[0];
  // The client's HTTP/2 starts after its upgrading request, the server's after the 101.
  const uint64_t client_start =
      requests.state() == Http1Parser::State::kUpgraded ? requests.upgrade_offset() : requests.next_offset();
  start_h2(c, client_start, switching.end);
  if (Http2Stream* s = c.h2->upgraded_request(req.method, req.target, req.host, std::string(), 0, req.first_ts, req.last_ts)) {
    // Stream 1 is the HTTP/1 request: its fields as HTTP/2 would carry them (pseudo-headers
    // first; the connection-specific ones of the upgrade left out), its body as sent.
    Http1Content& out = s->content[0];
    auto add = [&](const char* n, const std::string& v) { out.add_header(n, std::strlen(n), v.data(), v.size(), Http2Parser::kMaxHeaderBytes); };
    static const std::string kHttp = "http";  // h2c: HTTP/2 over cleartext
    add(":method", req.method);
    add(":path", req.target);
    add(":scheme", kHttp);
    add(":authority", req.host);
    for (const Http1HeaderSpan& h : req.req.headers) {
      const std::string_view n = req.req.name(h), v = req.req.value(h);
      static constexpr std::string_view kHopByHop[] = {"host", "connection", "upgrade", "http2-settings", "keep-alive", "transfer-encoding"};
      bool hop = false;
      for (std::string_view k : kHopByHop) hop = hop || equals_nocase(n, k);
      if (!hop) out.add_header(n.data(), n.size(), v.data(), v.size(), Http2Parser::kMaxHeaderBytes);
    }
    out.body = req.req.body;
    s->request_data = req.body_length;
  }
  pop(c);
  // What the request parser already received past the switch is HTTP/2 too.
  if (requests.state() == Http1Parser::State::kUpgraded && !requests.held().empty()) {
    c.h2->feed(0, requests.upgrade_offset(), reinterpret_cast<const uint8_t*>(requests.held().data()), requests.held().size(),
               requests.held_ts());
  }
}

void ShadowExtractor::h2_stream(Conn& c, const Http2Stream& s) {
  if (!method_wanted(s.method.c_str())) return skip(c, SkipReason::kMethod);
  if (s.content[0].body_truncated || s.content[0].headers_truncated || s.truncated) return skip(c, SkipReason::kTooLarge);
  // A request that never ended cannot be replayed; an answer cut by a gap cannot be compared.
  if (!s.request_ended && !s.reset) return skip(c, SkipReason::kGap);
  if (s.response_seen && !s.response_ended && !s.reset && c.gap[1]) return skip(c, SkipReason::kGap);
  ++stats_.exchanges;
  const bool grpc = starts_with_nocase(s.content_type, "application/grpc");
  http_path(s.path, path_);
  if (grpc) route_ = path_;  // /package.Service/Method is a route already
  else http_route(path_, route_);
  ExchangeRowWriter w(out_.current(), ExchangeRowKind::kH2, c.id);
  // :path as sent, query included: what a replay puts in :path.
  w.num(s.id).ms(s.request_first_ts).str(s.method).str(s.path).str(route_).str(s.authority);
  headers(w, s.content[0]);
  // A longer body is skipped "too_large": never truncated here.
  w.slice(s.content[0].body.data(), s.content[0].body.size()).num(static_cast<double>(s.request_data)).flag(false);
  headers(w, s.trailers[0]);
  w.flag(grpc);
  if (!s.response_ended) {
    w.flag(false).str(s.reset ? "reset" : "no_response");
  } else {
    w.flag(true).num(s.status);
    headers(w, s.content[1]);
    w.slice(s.content[1].body.data(), s.content[1].body.size()).num(static_cast<double>(s.response_data)).flag(s.content[1].body_truncated);
    headers(w, s.trailers[1]);
    w.num(s.grpc_status).ms(s.response_first_ts).ms(since(s.response_first_ts, s.request_last_ts)).ms(since(s.response_last_ts, s.request_last_ts));
  }
  w.end();
  out_.row_done(true);
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
    ExchangeRowWriter(out_.current(), ExchangeRowKind::kTurn, c.id)
        .num(static_cast<double>(c.seq))
        .ms(asked ? c.req_first_ts : c.reply_first_ts)
        .slice(c.turn_req.data(), c.turn_req.size())
        .slice(c.turn_reply.data(), c.turn_reply.size())
        .ms(asked && c.in_reply ? since(c.reply_first_ts, c.req_last_ts) : kUnknownNs)
        .ms(asked && c.in_reply ? since(c.reply_last_ts, c.req_last_ts) : kUnknownNs)
        .flag(c.reply_truncated)
        .end();
    out_.row_done(true);
  }
  c.turn_req.clear();
  c.turn_reply.clear();
  c.req_too_large = c.reply_truncated = c.in_reply = false;
}

}  // namespace podspan
