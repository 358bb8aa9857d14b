#include "replay/request_head.h"

#include <array>

namespace podspan {

namespace {

// JavaScript's toLowerCase on a latin1 byte (header names are compared that way there).
char lower(char c) {
  const auto u = static_cast<unsigned char>(c);
  if ((u >= 'A' && u <= 'Z') || (u >= 0xc0 && u <= 0xde && u != 0xd7)) return static_cast<char>(u + 0x20);
  return c;
}

bool equals_lower(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower_b[i]) return false;
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// JavaScript's trim() within latin1: tab, line feed, vertical tab, form feed, carriage return,
// space and the no-break space.
bool js_space(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x09 && u <= 0x0d) || u == 0x20 || u == 0xa0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && js_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && js_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr std::array<std::string_view, 11> kHopByHop = {"connection", "keep-alive",    "proxy-connection", "transfer-encoding",
                                                         "te",         "trailer",       "upgrade",          "expect",
                                                         "content-length", "http2-settings", "host"};

template <typename F>
void each_token(std::string_view value, F&& f) {
  for (;;) {
    const size_t comma = value.find(',');
    f(trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

void header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

}  // namespace

void append_request_head(const ExchangeRowRequest& req, size_t body_bytes, const RequestHeadOptions& o, std::string& out, bool& close) {
  close = false;
  // The Connection header's tokens: `close` asks to close; every token names a hop-by-hop header.
  bool any_connection = false;
  for (const auto& [n, v] : req.headers) {
    if (!equals_lower(n, "connection")) continue;
    any_connection = true;
    each_token(v, [&](std::string_view t) { close = close || equals_ignoring_case(t, "close"); });
  }
  const auto named_by_connection = [&](std::string_view name) {
    if (!any_connection) return false;
    bool named = false;
    for (const auto& [n, v] : req.headers) {
      if (named || !equals_lower(n, "connection")) continue;
      each_token(v, [&](std::string_view t) { named = named || equals_ignoring_case(t, name); });
    }
    return named;
  };
  const std::string_view host = !o.host_rewrite.empty() ? std::string_view(o.host_rewrite) : req.host;

  out.append(req.method);
  out += ' ';
  out.append(req.target);
  out += " HTTP/1.1\r\n";
  if (host.empty()) header(out, "host", o.default_host);
  else header(out, "host", host);
  bool had_length = false;
  for (const auto& [n, v] : req.headers) {
    bool skip = false;
    for (std::string_view hop : kHopByHop) skip = skip || equals_lower(n, hop);
    if (equals_lower(n, "content-length")) had_length = true;
    if (skip || (!o.marker_name.empty() && equals_ignoring_case(n, o.marker_name)) || named_by_connection(n)) continue;
    header(out, n, v);
  }
  if (body_bytes > 0 || had_length) header(out, "content-length", std::to_string(body_bytes));
  if (!o.marker_name.empty()) header(out, o.marker_name, o.marker_value);
  out += close ? "connection: close\r\n\r\n" : "connection: keep-alive\r\n\r\n";
}

}  // namespace podspan
