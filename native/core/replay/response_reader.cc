#include "replay/response_reader.h"

namespace podspan {

ResponseReader::ResponseReader(size_t max_body) : parser_(false, *this) { parser_.capture_content(true, max_body); }

void ResponseReader::reset() {
  parser_.reset(false);
  offset_ = 0;
  head_ = complete_ = false;
  error_ = "";
}

Http1Parser::Body ResponseReader::on_head(const Http1Message& m) {
  // 1xx, 204 and 304 have no body (Http1Parser sees to it); a response to HEAD neither.
  if (head_ && m.status >= 200) return Http1Parser::Body::kNone;
  return Http1Parser::Body::kAsHeadersSay;
}

void ResponseReader::on_message(const Http1Message& m) {
  if (m.status < 200) return;  // 100 Continue, 103 Early Hints: the final answer follows
  if (complete_) {
    error_ = "a response that no request asked for";
    return;
  }
  complete_ = true;
  answer_.status = m.status;
  answer_.keep_alive = m.keep_alive;
  answer_.body_bytes = m.body_bytes;
  answer_.content.header_bytes.assign(m.content.header_bytes);
  answer_.content.headers.assign(m.content.headers.begin(), m.content.headers.end());
  answer_.content.headers_truncated = m.content.headers_truncated;
  answer_.content.body.assign(m.content.body);
  answer_.content.body_truncated = m.content.body_truncated;
}

ResponseReader::Result ResponseReader::state_after() {
  if (error_[0] != '\0') return Result::kError;
  switch (parser_.state()) {
    case Http1Parser::State::kParsing:
    case Http1Parser::State::kClosed:
      break;
    case Http1Parser::State::kUpgraded:
      error_ = "the target switched protocols without being asked";
      return Result::kError;
    default:
      error_ = parser_.error()[0] ? parser_.error() : "not an HTTP/1 response";
      return Result::kError;
  }
  return complete_ ? Result::kComplete : Result::kNeedMore;
}

ResponseReader::Result ResponseReader::feed(const uint8_t* data, size_t len) {
  if (error_[0] != '\0') return Result::kError;
  parser_.feed(offset_, data, len, 0);
  offset_ += len;
  return state_after();
}

void ResponseReader::sent() { complete_ = false; }

ResponseReader::Result ResponseReader::finish() {
  if (error_[0] != '\0') return Result::kError;
  parser_.close(0);
  return state_after();
}

}  // namespace podspan
