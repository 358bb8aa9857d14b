#include "analysis/json_records.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <string_view>


namespace podspan {
namespace {

// Hand-written formatting through a cursor: snprintf was most of the cost of a record (a
// capture of 50,000 short connections: JSON took longer than reassembling them), and then one
// std::string append per piece was (a line is some 20 pieces).

// Digits at p (at most 20); returns the end.
char* put_uint(char* p, uint64_t v) {
  char b[20];
  char* start = b + sizeof b;
  do {
    *--start = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  const size_t n = static_cast<size_t>(b + sizeof b - start);
  std::memcpy(p, start, n);
  return p + n;
}

// Exactly `width` digits, zero-padded, at p; returns the end.
char* format_fixed(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// A duration as append_ms writes it, at p (at most 24 bytes); returns the end.
char* put_ms(char* p, uint64_t ns) {
  if (ns == kUnknownNs) {
    std::memcpy(p, "null", 4);
    return p + 4;
  }
  const uint64_t us = rounded_us(ns);
  p = put_uint(p, us / 1000);
  *p++ = '.';
  return format_fixed(p, us % 1000, 3);
}

// A byte a JSON string takes as it is: printable ASCII other than the quote and the backslash.
bool plain_json_byte(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid (RFC 3629: no
// overlongs, no surrogates, nothing past U+10FFFF).
size_t utf8_sequence(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  size_t len;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  uint32_t cp = c & (0xff >> (len + 1));
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}


// A signed number at p; returns the end.
char* put_int(char* p, int64_t v) {
  if (v >= 0) return put_uint(p, static_cast<uint64_t>(v));
  *p++ = '-';
  return put_uint(p, static_cast<uint64_t>(-(v + 1)) + 1);
}

char* put_literal(char* p, const char* s) {
  const size_t n = std::strlen(s);
  std::memcpy(p, s, n);
  return p + n;
}

// One of our own names in quotes (it needs no escaping).
char* put_quoted(char* p, const char* s) {
  *p++ = '"';
  p = put_literal(p, s);
  *p++ = '"';
  return p;
}

// The most a JSON string of n bytes takes: 6 bytes per byte ("\u00XX", "\ufffd") and its quotes.
constexpr size_t json_string_bound(size_t n) { return 6 * n + 2; }

char* put_json_string(char* out, const char* s, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  *out++ = '"';
  for (size_t i = 0; i < n;) {
    // Runs of plain bytes (nearly all of a path or a name) are copied whole.
    size_t run = i;
    while (run < n && plain_json_byte(p[run])) ++run;
    if (run > i) {
      std::memcpy(out, s + i, run - i);
      out += run - i;
      i = run;
      if (i == n) break;
    }
    const unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out = put_literal(out, "\\u00");
      *out++ = kHex[c >> 4];
      *out++ = kHex[c & 15];
      ++i;
    } else if (const size_t len = utf8_sequence(p + i, n - i)) {
      std::memcpy(out, s + i, len);
      out += len;
      i += len;
    } else {
      out = put_literal(out, "\\ufffd");  // one replacement per invalid byte
      ++i;
    }
  }
  *out++ = '"';
  return out;
}

char* put_decimal(char* p, double v) {
  if (!std::isfinite(v) || std::fabs(v) >= 1e15) return put_literal(p, "null");  // thousandths would not fit an int64
  const uint64_t m = static_cast<uint64_t>(std::llround(std::fabs(v) * 1000));
  if (v < 0 && m != 0) *p++ = '-';
  p = put_uint(p, m / 1000);
  *p++ = '.';
  return format_fixed(p, m % 1000, 3);
}

// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" with its quotes, 32 bytes (a year past 9999: its last 4 digits).
char* put_iso_time(char* p, uint64_t ns) {
  // Days to a civil date (H. Hinnant's days_from_civil inverse), without gmtime's locking.
  const uint64_t secs = ns / 1000000000ull;
  const int64_t z = static_cast<int64_t>(secs / 86400) + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const uint64_t sod = secs % 86400;
  *p++ = '"';
  p = format_fixed(p, static_cast<uint64_t>(year), 4);
  *p++ = '-';
  p = format_fixed(p, static_cast<uint64_t>(month), 2);
  *p++ = '-';
  p = format_fixed(p, static_cast<uint64_t>(day), 2);
  *p++ = 'T';
  p = format_fixed(p, sod / 3600, 2);
  *p++ = ':';
  p = format_fixed(p, sod / 60 % 60, 2);
  *p++ = ':';
  p = format_fixed(p, sod % 60, 2);
  *p++ = '.';
  p = format_fixed(p, ns % 1000000000ull, 9);
  *p++ = 'Z';
  *p++ = '"';
  return p;
}

// The address with its quotes, at most INET6_ADDRSTRLEN + 2 bytes.
char* put_address(char* p, uint8_t ip_version, const uint8_t* addr) {
  *p++ = '"';
  if (ip_version != 6) {
    for (int i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      p = put_uint(p, addr[i]);
    }
  } else {
    char b[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, addr, b, sizeof b)) p = put_literal(p, b);
  }
  *p++ = '"';
  return p;
}

// Formats through `put` into a stack buffer of `bound` bytes and appends the result once.
template <size_t kBound, typename Put>
void append_put(std::string& out, Put put) {
  char b[kBound];
  out.append(b, static_cast<size_t>(put(b) - b));
}

// One JSON line written through a cursor into `Out`'s room (a ByteSink: in place; a
// StringAppender: its scratch), ended once, at the line's end. The room always holds every
// fixed-size member (kFixedBytes) past the cursor; a string from the network makes room for its
// bound first. An output reused from batch to batch allocates nothing per record.
template <typename Out>
class Line {
 public:
  static constexpr size_t kMaxKey = 24;          // our member names (checked at compile time)
  static constexpr size_t kMaxMembers = 32;
  static constexpr size_t kMaxShortValue = 64;   // a number, time, address or our own name
  static constexpr size_t kFixedBytes = kMaxMembers * (kMaxKey + 4 + kMaxShortValue) + 4;

  explicit Line(Out& out) : out_(out), base_(out.size()) {
    room(0);
    *p_++ = '{';
  }

  // `,"name":` (no comma before the first member).
  template <size_t N>
  void key(const char (&name)[N]) {
    static_assert(N - 1 <= kMaxKey, "member name longer than Line reserves");
    if (!first_) *p_++ = ',';
    first_ = false;
    *p_++ = '"';
    std::memcpy(p_, name, N - 1);
    p_ += N - 1;
    *p_++ = '"';
    *p_++ = ':';
  }
  // `,"name":` and the value put(p) writes at the cursor (at most kMaxShortValue bytes unless
  // room was made for it); `at`: where the value's text went (rows point at it).
  template <size_t N, typename Put>
  void member(const char (&name)[N], Put put, JsonSpan* at = nullptr) {
    key(name);
    char* const value = p_;
    p_ = put(p_);
    if (at) *at = span_from(value);
  }
  template <size_t N>
  void num(const char (&name)[N], uint64_t v) {
    member(name, [v](char* p) { return put_uint(p, v); });
  }
  template <size_t N>
  void ms(const char (&name)[N], uint64_t ns) {
    member(name, [ns](char* p) { return put_ms(p, ns); });
  }
  // A signed number when `present`, else null (an answer's status before it came, say).
  template <size_t N>
  void int_or_null(const char (&name)[N], int64_t v, bool present) {
    member(name, [v, present](char* p) { return present ? put_int(p, v) : put_literal(p, "null"); });
  }
  template <size_t N>
  void null(const char (&name)[N]) {
    member(name, [](char* p) { return put_literal(p, "null"); });
  }
  template <size_t N>
  void time(const char (&name)[N], uint64_t ns, JsonSpan* at = nullptr) {
    member(name, [ns](char* p) { return put_iso_time(p, ns); }, at);
  }
  template <size_t N>
  void decimal(const char (&name)[N], double v) {
    member(name, [v](char* p) { return put_decimal(p, v); });
  }
  // One of our own names (no escaping needed), null when v is.
  template <size_t N>
  void cstr(const char (&name)[N], const char* v) {
    key(name);
    if (v) p_ = put_quoted(p_, v);
    else p_ = put_literal(p_, "null");
  }
  // A string from the network, escaped; null when empty. `at`: where its text went (rows point
  // at it); a null leaves no span.
  template <size_t N>
  void str_or_null(const char (&name)[N], std::string_view v, JsonSpan* at = nullptr) {
    if (v.empty()) return null(name);
    str(name, v, at);
  }
  template <size_t N>
  void str(const char (&name)[N], std::string_view v, JsonSpan* at = nullptr) {
    room(json_string_bound(v.size()));
    member(name, [v](char* p) { return put_json_string(p, v.data(), v.size()); }, at);
  }
  template <size_t N>
  void address(const char (&name)[N], uint8_t ip_version, const uint8_t* addr, JsonSpan* at = nullptr) {
    member(name, [ip_version, addr](char* p) { return put_address(p, ip_version, addr); }, at);
  }
  // `"<prefix><n>"`: a connection or alert id, an unnamed DNS type or rcode.
  template <size_t N>
  void tagged(const char (&name)[N], const char* prefix, uint64_t n, JsonSpan* at = nullptr) {
    member(name, [prefix, n](char* p) {
      *p++ = '"';
      p = put_uint(put_literal(p, prefix), n);
      *p++ = '"';
      return p;
    }, at);
  }
  // Our own name, else `"<prefix><n>"`.
  template <size_t N>
  void name_or_tagged(const char (&name)[N], const char* own, const char* prefix, uint64_t n, JsonSpan* at) {
    if (!own) return tagged(name, prefix, n, at);
    member(name, [own](char* p) { return put_quoted(p, own); }, at);
  }

  // Closes the line, its span ('\n' excluded) into spans when asked, and appends it to out.
  void end(LineSpans* spans = nullptr) {
    *p_++ = '}';
    if (spans) spans->line = span_from(begin_);
    *p_++ = '\n';
    out_.end_at(p_);
  }

 private:
  // Room for n bytes and then every fixed-size member past the cursor (the line moves with the
  // sink's memory when it grows).
  void room(size_t n) {
    const size_t used = static_cast<size_t>(p_ - begin_);
    begin_ = out_.room(used + n + kFixedBytes, used);
    p_ = begin_ + used;
  }
  JsonSpan span_from(const char* start) const {
    return {static_cast<uint32_t>(base_ + static_cast<size_t>(start - begin_)), static_cast<uint32_t>(p_ - start)};
  }

  Out& out_;
  const size_t base_;  // where the line starts in out (spans are offsets into out)
  char* begin_ = nullptr;
  char* p_ = nullptr;
  bool first_ = true;
};

template <typename Out>
void put_ends(Line<Out>& o, uint64_t uid, const RecordEndpoints& e, uint64_t ts, LineSpans* spans) {
  if (uid) o.tagged("uid", "C", uid);
  else o.null("uid");
  o.time("ts", ts, spans ? &spans->ts : nullptr);
  o.address("client", e.ip_version, e.client, spans ? &spans->client : nullptr);
  o.num("client_port", e.client_port);
  o.address("server", e.ip_version, e.server, spans ? &spans->server : nullptr);
  o.num("server_port", e.server_port);
  if (e.vlan) o.num("vlan", e.vlan);
}

}  // namespace

void append_json_string(std::string& out, const char* s, size_t n) {
  const size_t start = out.size();
  out.resize(start + json_string_bound(n));
  char* const b = &out[start];
  out.resize(start + static_cast<size_t>(put_json_string(b, s, n) - b));
}

uint64_t rounded_us(uint64_t ns) { return ns / 1000 + (ns % 1000 >= 500 ? 1 : 0); }

void append_ms(std::string& out, uint64_t ns) {
  append_put<24>(out, [ns](char* p) { return put_ms(p, ns); });
}

void append_decimal(std::string& out, double v) {
  append_put<32>(out, [v](char* p) { return put_decimal(p, v); });
}

void append_iso_time(std::string& out, uint64_t ns) {
  append_put<40>(out, [ns](char* p) { return put_iso_time(p, ns); });
}

void append_address(std::string& out, uint8_t ip_version, const uint8_t* addr) {
  append_put<INET6_ADDRSTRLEN + 2>(out, [ip_version, addr](char* p) { return put_address(p, ip_version, addr); });
}

const char* dns_type_name(uint16_t t) {
  switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 41: return "OPT";
    case 43: return "DS";
    case 48: return "DNSKEY";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 252: return "AXFR";
    case 255: return "ANY";
    case 257: return "CAA";
    default: return nullptr;
  }
}

const char* dns_rcode_name(int r) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                       "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return r >= 0 && r < 11 ? kNames[r] : nullptr;
}

namespace {

template <typename Out>
void write_json(Out& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans) {
  Line<Out> o(out);
  put_ends(o, r.uid, r.ends, r.ts, spans);
  o.cstr("proto", "tcp");
  o.ms("duration_ms", r.duration);
  o.num("client_bytes", r.client_bytes);
  o.num("server_bytes", r.server_bytes);
  o.num("client_packets", r.client_packets);
  o.num("server_packets", r.server_packets);
  o.ms("handshake_rtt_ms", r.handshake_rtt);
  o.ms("client_rtt_ms", r.client_rtt);
  o.ms("server_rtt_ms", r.server_rtt);
  o.num("retransmitted_packets", r.retransmitted_packets);
  o.num("out_of_order_packets", r.out_of_order_packets);
  o.num("zero_window_events", r.zero_window_events);
  o.num("missed_bytes", r.missed_bytes);
  o.cstr("state", conn_state_name(r.state));
  o.str_or_null("close_reason", t.close_reason);
  o.str_or_null("app", t.app);
  o.end(spans);
}

template <typename Out>
void write_json(Out& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans) {
  Line<Out> o(out);
  put_ends(o, r.uid, r.ends, r.ts, spans);
  o.str_or_null("version", t.version);
  o.num("stream_id", r.stream_id);
  o.str_or_null("method", t.method, spans ? &spans->a : nullptr);
  o.str_or_null("host", t.host);
  o.str_or_null("path", t.path);
  o.str_or_null("route", t.route, spans ? &spans->b : nullptr);
  o.int_or_null("status", r.status, r.status > 0);
  o.int_or_null("grpc_status", r.grpc_status, r.grpc_status >= 0);
  o.num("request_bytes", r.request_bytes);
  o.num("response_bytes", r.response_bytes);
  o.ms("latency_ms", r.latency);
  o.ms("duration_ms", r.duration);
  o.str_or_null("note", t.note);
  o.end(spans);
}

template <typename Out>
void write_json(Out& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans) {
  LineSpans unused;
  LineSpans& at = spans ? *spans : unused;
  Line<Out> o(out);
  put_ends(o, r.uid, r.ends, r.ts, spans);
  o.str_or_null("proto", t.proto);
  o.num("trans_id", r.trans_id);
  o.str("query", t.query, &at.a);
  o.num("qtype", r.qtype);
  o.name_or_tagged("qtype_name", dns_type_name(r.qtype), "TYPE", r.qtype, &at.b);
  if (r.rcode >= 0) {
    o.int_or_null("rcode", r.rcode, true);
    o.name_or_tagged("rcode_name", dns_rcode_name(r.rcode), "RCODE", static_cast<uint64_t>(r.rcode), &at.c);
  } else {
    o.null("rcode");
    o.null("rcode_name");
  }
  o.num("answers", r.answers);
  o.ms("latency_ms", r.latency);
  o.end(spans);
}

template <typename Out>
void write_json(Out& out, const AlertRecord& r) {
  Line<Out> o(out);
  o.time("ts", r.ts);
  o.cstr("kind", alert_kind_name(r.kind));
  const char id_prefix[2] = {r.id_prefix, '\0'};
  o.tagged("alert_id", id_prefix, r.id);
  o.cstr("state", r.cleared ? "cleared" : "fired");
  if (r.has_server) {
    o.address("server", r.ends.ip_version, r.ends.server);
    o.num("server_port", r.ends.server_port);
  } else {
    o.null("server");
    o.null("server_port");
  }
  if (r.has_source) o.address("source", r.ends.ip_version, r.ends.client);
  else o.null("source");
  o.str_or_null("route", r.route);
  o.decimal("rate", r.rate);
  o.decimal("baseline", r.baseline);
  o.decimal("threshold", r.threshold);
  o.cstr("unit", alert_unit(r.kind));
  if (r.share >= 0) o.decimal("share", r.share);
  else o.null("share");
  o.str_or_null("evidence", r.evidence);
  if (r.cleared) {
    o.time("started", r.started);
    o.decimal("duration_s", r.ts >= r.started ? static_cast<double>(r.ts - r.started) / 1e9 : 0);
    o.cstr("cleared_by", clear_cause_name(r.cleared_by));
  } else {
    o.null("started");
    o.null("duration_s");
    o.null("cleared_by");
  }
  o.end();
}

}  // namespace

void append_json(ByteSink& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(StringAppender& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(std::string& out, const FlowNumbers& r, const FlowTexts& t, LineSpans* spans) {
  StringAppender a(out);
  write_json(a, r, t, spans);
}
void append_json(ByteSink& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(StringAppender& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(std::string& out, const HttpNumbers& r, const HttpTexts& t, LineSpans* spans) {
  StringAppender a(out);
  write_json(a, r, t, spans);
}
void append_json(ByteSink& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(StringAppender& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans) { write_json(out, r, t, spans); }
void append_json(std::string& out, const DnsNumbers& r, const DnsTexts& t, LineSpans* spans) {
  StringAppender a(out);
  write_json(a, r, t, spans);
}
void append_json(ByteSink& out, const AlertRecord& r) { write_json(out, r); }
void append_json(StringAppender& out, const AlertRecord& r) { write_json(out, r); }
void append_json(std::string& out, const AlertRecord& r) {
  StringAppender a(out);
  write_json(a, r);
}

}  // namespace podspan
