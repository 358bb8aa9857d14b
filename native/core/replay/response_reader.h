// The candidate's answers on one HTTP/1 connection, framed by llhttp (through Http1Parser): the
// final response to each request (1xx interim responses skipped), its status, headers, and body
// decoded from chunked, Content-Length or close-delimited framing, kept up to max_body bytes with
// the whole length counted. A response to HEAD has no body whatever its headers say.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/http1.h"

namespace podspan {

class ResponseReader : private Http1Parser::Events {
 public:
  enum class Result : uint8_t {
    kNeedMore,  // no complete final response yet
    kComplete,  // answer() holds it
    kError,     // not HTTP/1, or a response that was not asked for: error() says why
  };

  explicit ResponseReader(size_t max_body);

  // A new connection: parsing starts over.
  void reset();
  // A request was sent (`head`: a HEAD, whose answer has no body): the next final response answers it.
  void expect(bool head) {
    head_ = head;
    sent();
  }
  // Bytes received. kComplete once the final response to the request sent is complete; a second
  // final response before the next request is expected is kError (pipelining 1: nobody asked).
  Result feed(const uint8_t* data, size_t len);
  // The connection ended: a close-delimited body is complete now (kComplete); a response
  // begun but not finished (or none at all) is kNeedMore: the caller counts it reset.
  Result finish();

  // The last final response: copied out of the parser, so bytes parsed after it cannot touch it.
  struct Answer {
    int status = 0;
    bool keep_alive = true;
    Http1Content content;  // headers as sent, body up to max_body
    uint64_t body_bytes = 0;
  };
  const Answer& answer() const { return answer_; }
  const char* error() const { return error_; }

 private:
  void sent();
  Result state_after();
  Http1Parser::Body on_head(const Http1Message& m) override;
  void on_message(const Http1Message& m) override;

  Http1Parser parser_;
  uint64_t offset_ = 0;
  bool head_ = false;
  bool complete_ = false;
  Answer answer_;
  const char* error_ = "";
};

}  // namespace podspan
