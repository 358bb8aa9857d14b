// HTTP/1.x messages of one stream direction, parsed by llhttp (the parser inside Node). Every
// message reports where it lies in the direction's byte stream ([start, head_end) the head,
// [head_end, end) the body as sent, chunk framing included) and the capture times of its first
// and last byte, so a caller can slice the exact bytes of a request out of the stream (shadow
// testing re-sends them) as well as describe it (analytics).
//
// The parser keeps one message's fields in buffers reused from message to message: no heap
// allocation per message once they have grown to the sizes the traffic needs.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podspan {

// One header of a message kept by content capture: [name, value] as spans of
// Http1Content::header_bytes (names as sent, case kept).
struct Http1HeaderSpan {
  uint32_t name_off = 0, name_len = 0, value_off = 0, value_len = 0;
};

// What content capture keeps of a message (Http1Parser::capture_content): every header in order
// and the payload after de-chunking, up to a cap. Empty when capture is off.
struct Http1Content {
  std::string header_bytes;              // names and values back to back
  std::vector<Http1HeaderSpan> headers;  // spans into header_bytes, in the order sent
  bool headers_truncated = false;        // past Http1Parser::kMaxHeaderBytes: the rest dropped
  std::string body;                      // the first max_body bytes of the payload
  bool body_truncated = false;           // payload longer than that (body_bytes counts it all)
  std::string_view name(const Http1HeaderSpan& h) const { return {header_bytes.data() + h.name_off, h.name_len}; }
  std::string_view value(const Http1HeaderSpan& h) const { return {header_bytes.data() + h.value_off, h.value_len}; }
  void clear_headers() {
    header_bytes.clear();
    headers.clear();
    headers_truncated = false;
  }
  void clear() {
    clear_headers();
    body_truncated = false;
    body.clear();
  }
  // A whole header at once (HTTP/2's decoded fields); past max_bytes of names and values the
  // rest is dropped and headers_truncated set.
  void add_header(const char* name, size_t name_len, const char* value, size_t value_len, size_t max_bytes) {
    if (headers_truncated || header_bytes.size() + name_len + value_len > max_bytes) {
      headers_truncated = true;
      return;
    }
    Http1HeaderSpan h;
    h.name_off = static_cast<uint32_t>(header_bytes.size());
    h.name_len = static_cast<uint32_t>(name_len);
    header_bytes.append(name, name_len);
    h.value_off = static_cast<uint32_t>(header_bytes.size());
    h.value_len = static_cast<uint32_t>(value_len);
    header_bytes.append(value, value_len);
    headers.push_back(h);
  }
  // Payload bytes, up to max_bytes kept.
  void add_body(const char* at, size_t n, size_t max_bytes) {
    const size_t room = body.size() < max_bytes ? max_bytes - body.size() : 0;
    if (n > room) body_truncated = true;
    body.append(at, n < room ? n : room);
  }
};

struct Http1Message {
  bool request = true;
  uint64_t start = 0;     // offset of the message's first byte in its direction's stream
  uint64_t head_end = 0;  // just past the blank line that ends the head
  uint64_t end = 0;       // just past the last byte of the body
  uint64_t first_ts = 0, last_ts = 0;  // capture times of the packets holding the first and last byte
  uint8_t version_major = 1, version_minor = 1;
  const char* method = "";  // requests: llhttp's name for it ("GET"), static storage
  int method_id = -1;       // requests: llhttp_method_t
  int status = 0;           // responses
  // Capped at kMaxTarget / kMaxHeader bytes (the rest is dropped and `truncated` set).
  std::string target;       // request-target as sent: path and query (or an absolute URI, or authority)
  std::string host, content_type, connection, upgrade, expect;
  bool truncated = false;
  int64_t content_length = -1;  // the Content-Length header; -1 when absent
  uint64_t body_bytes = 0;      // payload bytes (after de-chunking)
  bool chunked = false;
  bool keep_alive = true;       // the connection stays open after this message (llhttp's verdict)
  bool ended_by_close = false;  // a body read until the connection closed
  Http1Content content;         // only with capture_content (shadow testing); analytics leaves it empty
};

class Http1Parser {
 public:
  static constexpr size_t kMaxTarget = 4096, kMaxHeader = 256;
  // Content capture: header names and values kept per message (llhttp itself accepts more).
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;
  // Bytes kept after an upgrading request until the response says whether the switch happened.
  static constexpr size_t kMaxHeld = 64 * 1024;

  // What follows a response's head: as its headers say; nothing (the response to a HEAD); or
  // nothing, and the connection stops being HTTP/1 (a 2xx answering CONNECT).
  enum class Body { kAsHeadersSay, kNone, kSwitch };
  class Events {
   public:
    virtual ~Events() = default;
    // A message's head is complete (the fields of `m` but body_bytes, end and last_ts are set).
    // A response parser needs the request method it answers: 1xx, 204 and 304 have no body by
    // themselves, a response to HEAD only because of the request.
    virtual Body on_head(const Http1Message& m) { return Body::kAsHeadersSay; }
    virtual void on_message(const Http1Message& m) = 0;
  };

  enum class State : uint8_t {
    kParsing,
    kUpgraded,  // the protocol changed after the last message (101, CONNECT, an Upgrade request)
    kGap,       // bytes are missing: the direction is no longer parsed
    kError,     // not HTTP/1 (or broken): no longer parsed
    kClosed,
  };

  Http1Parser(bool requests, Events& events);
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Starts over on a new stream (buffers keep their capacity; content capture stays as set).
  void reset(bool requests);
  // Keep every header and up to max_body payload bytes of each message in current().content
  // (off by default: analytics pays one branch per callback, no copies). The target is
  // then kept up to kMaxHeaderBytes instead of kMaxTarget: a replayed request needs all of it.
  void capture_content(bool on, size_t max_body) {
    capture_ = on;
    max_body_ = max_body;
  }
  // Only the fields analytics reads: a request's Host and a 101's Upgrade (an h2c upgrade needs
  // it). A request's headers after its Host, and a response's other than a 101's, are parsed
  // without header callbacks, their named fields left empty: each header costs four callbacks,
  // ~14% of the capture thread on request-dense HTTP. Ignored with content capture.
  void host_and_upgrade_only(bool on) { lean_ = on; }
  // The next bytes of the direction, starting at stream offset `offset` (the first call may
  // start anywhere; later ones continue where the previous ended), captured at ts.
  void feed(uint64_t offset, const uint8_t* data, size_t len, uint64_t ts);
  // Bytes [offset, offset+len) are missing: the direction stops (a message cannot be resynced).
  void gap();
  // The direction ended at time ts: a body read until close is complete now.
  void close(uint64_t ts);

  // After an upgrading request whose response refused the switch: parsing goes on as HTTP/1,
  // the held bytes first.
  void resume_after_upgrade();

  State state() const { return state_; }
  bool in_message() const { return in_message_; }
  const Http1Message& current() const { return msg_; }  // the message being parsed (or the last)
  uint64_t upgrade_offset() const { return upgrade_offset_; }  // kUpgraded: the new protocol starts here
  // kUpgraded: the bytes received after upgrade_offset() (up to kMaxHeld), with the time of the
  // first of them.
  const std::string& held() const { return held_; }
  uint64_t held_ts() const { return held_ts_; }
  bool held_overflow() const { return held_overflow_; }
  uint64_t next_offset() const { return next_offset_; }
  const char* error() const { return error_; }  // kError: llhttp's reason

  // Counters since construction (kept across reset()).
  uint64_t messages() const { return messages_; }
  uint64_t errors() const { return errors_; }

 private:
  enum class Header : uint8_t { kOther, kHost, kContentType, kConnection, kUpgrade, kExpect };
  enum class Pause : uint8_t { kNone, kBegin, kHead, kComplete };
  static int cb_message_begin(llhttp_t* p);
  static int cb_url(llhttp_t* p, const char* at, size_t n);
  static int cb_header_field(llhttp_t* p, const char* at, size_t n);
  static int cb_header_field_complete(llhttp_t* p);
  static int cb_header_value(llhttp_t* p, const char* at, size_t n);
  static int cb_header_value_complete(llhttp_t* p);
  static int cb_headers_complete(llhttp_t* p);
  static int cb_body(llhttp_t* p, const char* at, size_t n);
  static int cb_message_complete(llhttp_t* p);
  static int cb_status_complete(llhttp_t* p);
  static const llhttp_settings_t& settings();
  static const llhttp_settings_t& settings_without_headers();

  void run(const char* data, size_t len);
  void paused(uint64_t at);
  std::string* header_target();
  void hold(const uint8_t* data, size_t len);
  void capture_header(const char* at, size_t n, bool name);

  Events& events_;
  llhttp_t parser_;
  bool requests_;
  State state_ = State::kParsing;
  bool in_message_ = false;
  bool closing_ = false;
  Pause pause_ = Pause::kNone;
  Http1Message msg_;
  Header header_ = Header::kOther;
  char field_[16];
  uint8_t field_len_ = 0;
  bool field_long_ = false;
  // Where the bytes llhttp is looking at lie in the stream: offset of `base_`.
  const char* base_ = nullptr;
  uint64_t base_offset_ = 0, next_offset_ = 0, ts_ = 0;
  uint64_t upgrade_offset_ = 0, held_ts_ = 0;
  std::string held_;
  bool held_overflow_ = false;
  bool capture_ = false;
  bool lean_ = false;  // host_and_upgrade_only
  bool in_field_ = false;     // content capture: a header name is being received
  bool header_open_ = false;  // ... a header's name or value (not complete yet)
  size_t max_body_ = 0;
  const char* error_ = "";
  uint64_t messages_ = 0, errors_ = 0;
};

}  // namespace podspan
