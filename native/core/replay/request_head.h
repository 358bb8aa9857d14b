// The head of a replayed HTTP/1.1 request, written as undici writes the same request for
// src/shadow/replay/http-headers.ts (http1Headers): the captured headers without hop-by-hop ones
// (RFC 9110 7.6.1, those the Connection header names, framing, Expect, Host), then Host (the
// rewrite, the captured one, or the target's), Content-Length of the body sent, the marker, and
// `connection: close` when the captured request asked to close, `keep-alive` otherwise. Built on
// the transport's thread from the exchange's row, so JavaScript never makes the strings.
#pragma once

#include <string>
#include <string_view>

#include "shadow/exchange_rows.h"

namespace podspan {

struct RequestHeadOptions {
  std::string marker_name, marker_value;  // empty name: no marker
  std::string host_rewrite;               // empty: the captured Host
  std::string default_host;               // the target's host[:port], when there is no Host at all
};

// Appends the head (request line to the blank line) to `out`; `close` says whether the captured
// request asked to close its connection after the answer.
void append_request_head(const ExchangeRowRequest& req, size_t body_bytes, const RequestHeadOptions& o, std::string& out, bool& close);

}  // namespace podspan
