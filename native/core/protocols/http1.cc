#include "protocols/http1.h"

#include "protocols/ascii_case.h"

#include <algorithm>

namespace podspan {

namespace {

Http1Parser* self(llhttp_t* p) { return static_cast<Http1Parser*>(p->data); }

void append_capped(std::string& s, const char* at, size_t n, size_t cap, bool& truncated) {
  const size_t room = s.size() < cap ? cap - s.size() : 0;
  if (n > room) truncated = true;
  s.append(at, std::min(n, room));
}

}  // namespace

// llhttp's callbacks never see where a message begins or where its head ends, only spans of
// data. So the parser pauses at message begin, head complete and message complete: llhttp then
// returns from llhttp_execute with llhttp_get_error_pos() at the exact byte, and parsing
// resumes from there. Decisions about the body (a response to HEAD) are made during the head
// pause by setting the flags llhttp's on_headers_complete return values would set.
const llhttp_settings_t& Http1Parser::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t t;
    llhttp_settings_init(&t);
    t.on_message_begin = cb_message_begin;
    t.on_url = cb_url;
    t.on_header_field = cb_header_field;
    t.on_header_field_complete = cb_header_field_complete;
    t.on_header_value = cb_header_value;
    t.on_header_value_complete = cb_header_value_complete;
    t.on_headers_complete = cb_headers_complete;
    t.on_body = cb_body;
    t.on_message_complete = cb_message_complete;
    t.on_status_complete = cb_status_complete;
    return t;
  }();
  return s;
}

// The same, without the header callbacks: llhttp reads a settings pointer at each callback, so a
// response can be switched to these once its status is known and back at the next message.
const llhttp_settings_t& Http1Parser::settings_without_headers() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t t = settings();
    t.on_header_field = nullptr;
    t.on_header_field_complete = nullptr;
    t.on_header_value = nullptr;
    t.on_header_value_complete = nullptr;
    return t;
  }();
  return s;
}

Http1Parser::Http1Parser(bool requests, Events& events) : events_(events), requests_(requests) { reset(requests); }

void Http1Parser::reset(bool requests) {
  requests_ = requests;
  llhttp_init(&parser_, requests ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
  parser_.data = this;
  state_ = State::kParsing;
  in_message_ = closing_ = false;
  pause_ = Pause::kNone;
  header_ = Header::kOther;
  field_len_ = 0;
  field_long_ = false;
  base_ = nullptr;
  base_offset_ = next_offset_ = ts_ = upgrade_offset_ = held_ts_ = 0;
  // Bytes held after an upgrade may have grown the buffer to kMaxHeld: give that back.
  if (held_.capacity() > 4096) std::string().swap(held_);
  held_.clear();
  held_overflow_ = false;
  error_ = "";
  msg_.request = requests;
}

int Http1Parser::cb_status_complete(llhttp_t* p) {
  Http1Parser& s = *self(p);
  if (s.lean_ && !s.capture_ && p->status_code != 101) p->settings = const_cast<llhttp_settings_t*>(&settings_without_headers());
  return 0;
}

int Http1Parser::cb_message_begin(llhttp_t* p) {
  Http1Parser& s = *self(p);
  p->settings = const_cast<llhttp_settings_t*>(&settings());
  Http1Message& m = s.msg_;
  m.request = s.requests_;
  m.start = m.head_end = m.end = 0;
  m.first_ts = m.last_ts = s.ts_;
  m.version_major = m.version_minor = 1;
  m.method = "";
  m.method_id = -1;
  m.status = 0;
  m.target.clear();
  m.host.clear();
  m.content_type.clear();
  m.connection.clear();
  m.upgrade.clear();
  m.expect.clear();
  m.truncated = false;
  m.content_length = -1;
  m.body_bytes = 0;
  m.chunked = false;
  m.keep_alive = true;
  m.ended_by_close = false;
  if (s.capture_) m.content.clear();
  s.in_field_ = s.header_open_ = false;
  s.in_message_ = true;
  s.pause_ = Pause::kBegin;
  return HPE_PAUSED;
}

int Http1Parser::cb_url(llhttp_t* p, const char* at, size_t n) {
  Http1Parser& s = *self(p);
  append_capped(s.msg_.target, at, n, s.capture_ ? kMaxHeaderBytes : kMaxTarget, s.msg_.truncated);
  return 0;
}

int Http1Parser::cb_header_field(llhttp_t* p, const char* at, size_t n) {
  Http1Parser& s = *self(p);
  if (s.capture_) s.capture_header(at, n, true);
  if (s.field_len_ + n > sizeof(s.field_)) {
    s.field_long_ = true;  // longer than any name we look for
    return 0;
  }
  std::copy(at, at + n, s.field_ + s.field_len_);
  s.field_len_ = static_cast<uint8_t>(s.field_len_ + n);
  return 0;
}

int Http1Parser::cb_header_field_complete(llhttp_t* p) {
  Http1Parser& s = *self(p);
  // Every header name of every message ends here: its length picks the one name it could be.
  const std::string_view name(s.field_, s.field_long_ ? 0 : s.field_len_);
  Header h = Header::kOther;
  switch (name.size()) {
    case 4: h = equals_nocase(name, "host") ? Header::kHost : h; break;
    case 6: h = equals_nocase(name, "expect") ? Header::kExpect : h; break;
    case 7: h = equals_nocase(name, "upgrade") ? Header::kUpgrade : h; break;
    case 10: h = equals_nocase(name, "connection") ? Header::kConnection : h; break;
    case 12: h = equals_nocase(name, "content-type") ? Header::kContentType : h; break;
    default: break;
  }
  s.header_ = h;
  // A repeated header: keep the first (as a server reading Host would).
  if (const std::string* v = s.header_target(); v != nullptr && !v->empty()) s.header_ = Header::kOther;
  s.field_len_ = 0;
  s.field_long_ = false;
  s.in_field_ = false;
  return 0;
}

std::string* Http1Parser::header_target() {
  switch (header_) {
    case Header::kHost: return &msg_.host;
    case Header::kContentType: return &msg_.content_type;
    case Header::kConnection: return &msg_.connection;
    case Header::kUpgrade: return &msg_.upgrade;
    case Header::kExpect: return &msg_.expect;
    default: return nullptr;
  }
}

int Http1Parser::cb_header_value(llhttp_t* p, const char* at, size_t n) {
  Http1Parser& s = *self(p);
  if (s.capture_) s.capture_header(at, n, false);
  if (std::string* v = s.header_target()) append_capped(*v, at, n, kMaxHeader, s.msg_.truncated);
  return 0;
}

int Http1Parser::cb_header_value_complete(llhttp_t* p) {
  Http1Parser& s = *self(p);
  if (s.lean_ && !s.capture_ && s.requests_ && s.header_ == Header::kHost) p->settings = const_cast<llhttp_settings_t*>(&settings_without_headers());
  s.header_ = Header::kOther;
  s.in_field_ = s.header_open_ = false;
  return 0;
}

int Http1Parser::cb_headers_complete(llhttp_t* p) {
  Http1Parser& s = *self(p);
  Http1Message& m = s.msg_;
  m.version_major = p->http_major;
  m.version_minor = p->http_minor;
  if (s.requests_) {
    m.method_id = p->method;
    m.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  } else {
    m.status = p->status_code;
  }
  m.chunked = (p->flags & F_CHUNKED) != 0;
  m.content_length = (p->flags & F_CONTENT_LENGTH) ? static_cast<int64_t>(p->content_length) : -1;
  m.keep_alive = llhttp_should_keep_alive(p) != 0;
  s.pause_ = Pause::kHead;
  return HPE_PAUSED;
}

int Http1Parser::cb_body(llhttp_t* p, const char* at, size_t n) {
  Http1Parser& s = *self(p);
  s.msg_.body_bytes += n;
  if (s.capture_) s.msg_.content.add_body(at, n, s.max_body_);
  return 0;
}

// Content capture: llhttp hands a name or value over in pieces (one per feed it spans); a piece
// of a name after a value starts the next header. An empty value gets no callback at all.
void Http1Parser::capture_header(const char* at, size_t n, bool name) {
  Http1Content& c = msg_.content;
  if (c.headers_truncated) return;
  if (c.header_bytes.size() + n > kMaxHeaderBytes) {
    c.headers_truncated = true;
    if (header_open_) c.headers.pop_back();  // no half a header
    in_field_ = header_open_ = false;
    return;
  }
  const uint32_t off = static_cast<uint32_t>(c.header_bytes.size());
  c.header_bytes.append(at, n);
  if (name) {
    if (!in_field_) {
      c.headers.emplace_back();
      c.headers.back().name_off = off;
      in_field_ = header_open_ = true;
    }
    c.headers.back().name_len += static_cast<uint32_t>(n);
    c.headers.back().value_off = off + static_cast<uint32_t>(n);
  } else if (!c.headers.empty()) {
    Http1HeaderSpan& h = c.headers.back();
    if (h.value_len == 0) h.value_off = off;
    h.value_len += static_cast<uint32_t>(n);
  }
}

int Http1Parser::cb_message_complete(llhttp_t* p) {
  Http1Parser& s = *self(p);
  s.msg_.keep_alive = llhttp_should_keep_alive(p) != 0;
  if (s.closing_) return 0;  // llhttp_finish: the message ends with the stream
  s.pause_ = Pause::kComplete;
  return HPE_PAUSED;
}

void Http1Parser::paused(uint64_t at) {
  const Pause what = pause_;
  pause_ = Pause::kNone;
  switch (what) {
    case Pause::kBegin:
      msg_.start = at;
      break;
    case Pause::kHead: {
      msg_.head_end = at;
      Body body = events_.on_head(msg_);
      // RFC 9112 6.3: 1xx, 204 and 304 never have a body, whatever Content-Length says (llhttp
      // 8.1 would read one after a 304 carrying the length of the resource).
      const int st = msg_.status;
      if (!requests_ && body == Body::kAsHeadersSay && ((st >= 100 && st < 200 && st != 101) || st == 204 || st == 304)) {
        body = Body::kNone;
      }
      if (!requests_ && body != Body::kAsHeadersSay) {
        // What returning 1 (no body) or 2 (no body, then upgrade) from on_headers_complete does.
        parser_.flags |= F_SKIPBODY;
        if (body == Body::kSwitch) parser_.upgrade = 1;
      }
      break;
    }
    case Pause::kComplete:
      msg_.end = at;
      msg_.last_ts = ts_;
      in_message_ = false;
      ++messages_;
      events_.on_message(msg_);
      break;
    case Pause::kNone:
      break;
  }
}

void Http1Parser::hold(const uint8_t* data, size_t len) {
  if (len == 0) return;
  if (held_.empty()) held_ts_ = ts_;
  const size_t room = kMaxHeld - std::min(kMaxHeld, held_.size());
  if (len > room) held_overflow_ = true;
  held_.append(reinterpret_cast<const char*>(data), std::min(len, room));
}

void Http1Parser::run(const char* data, size_t len) {
  const char* p = data;
  const char* end = data + len;
  while (state_ == State::kParsing) {
    const llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<size_t>(end - p));
    if (err == HPE_OK) break;
    const char* at = llhttp_get_error_pos(&parser_);
    if (at == nullptr || at < p || at > end) at = end;
    const uint64_t at_offset = base_offset_ + static_cast<uint64_t>(at - base_);
    if (err == HPE_PAUSED) {
      paused(at_offset);
      if (state_ != State::kParsing) break;  // an event handler stopped the parser
      llhttp_resume(&parser_);
      p = at;
      continue;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      state_ = State::kUpgraded;
      upgrade_offset_ = at_offset;
      hold(reinterpret_cast<const uint8_t*>(at), static_cast<size_t>(end - at));
      break;
    }
    state_ = State::kError;
    error_ = llhttp_errno_name(err);
    ++errors_;
    break;
  }
}

void Http1Parser::feed(uint64_t offset, const uint8_t* data, size_t len, uint64_t ts) {
  ts_ = ts;
  if (state_ == State::kUpgraded) {
    hold(data, len);
    next_offset_ = offset + len;
    return;
  }
  if (state_ != State::kParsing || len == 0) return;
  base_ = reinterpret_cast<const char*>(data);
  base_offset_ = offset;
  next_offset_ = offset + len;
  run(base_, len);
}

void Http1Parser::gap() {
  if (state_ == State::kParsing || state_ == State::kUpgraded) state_ = State::kGap;
}

void Http1Parser::close(uint64_t ts) {
  if (state_ != State::kParsing) return;
  if (in_message_ && msg_.head_end != 0 && llhttp_message_needs_eof(&parser_)) {
    // The body ran until the stream ended: its last byte came with the last data (ts_).
    closing_ = true;
    llhttp_finish(&parser_);
    closing_ = false;
    msg_.end = next_offset_;
    msg_.last_ts = ts_;
    msg_.ended_by_close = true;
    in_message_ = false;
    ++messages_;
    events_.on_message(msg_);
  }
  state_ = State::kClosed;
}

void Http1Parser::resume_after_upgrade() {
  if (state_ != State::kUpgraded) return;
  llhttp_resume_after_upgrade(&parser_);
  state_ = State::kParsing;
  std::string held;
  held.swap(held_);
  held_overflow_ = false;
  if (!held.empty()) {
    ts_ = held_ts_;
    base_ = held.data();
    base_offset_ = upgrade_offset_;
    run(base_, held.size());
  }
  held.clear();
  held_.swap(held);  // keep the capacity
}

}  // namespace podspan
