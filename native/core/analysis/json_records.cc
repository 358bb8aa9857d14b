#include "analysis/json_records.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>


namespace podspan {
namespace {

// Hand-written number formatting into a caller's buffer, appended once per member: snprintf
// was most of the cost of a record (a capture of 50,000 short connections: JSON took longer
// than reassembling them), and then one string append per piece was.

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
  const uint64_t us = ns / 1000 + (ns % 1000 >= 500 ? 1 : 0);
  p = put_uint(p, us / 1000);
  *p++ = '.';
  return format_fixed(p, us % 1000, 3);
}

void append_uint(std::string& out, uint64_t v) {
  char b[20];
  out.append(b, static_cast<size_t>(put_uint(b, v) - b));
}

void append_int(std::string& out, int64_t v) {
  if (v < 0) {
    out.push_back('-');
    append_uint(out, static_cast<uint64_t>(-(v + 1)) + 1);
  } else {
    append_uint(out, static_cast<uint64_t>(v));
  }
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

// Writes `"name":` after a comma (or the opening brace for the first field).
struct Obj {
  std::string& out;
  bool first = true;
  explicit Obj(std::string& o) : out(o) { out.push_back('{'); }
  // A member with a short value is formatted in one buffer and appended once: `,"name":value`.
  static constexpr size_t kMaxKey = 40;  // our own names are shorter (checked: longer go the slow way)
  struct Buf {
    char b[kMaxKey + 48];
    char* p = b;
  };
  // `,"name":` into buf; false (and nothing written) for a name too long for it.
  bool key_into(Buf& buf, const char* name) {
    const size_t len = std::strlen(name);
    if (len > kMaxKey) return false;
    if (!first) *buf.p++ = ',';
    first = false;
    *buf.p++ = '"';
    std::memcpy(buf.p, name, len);
    buf.p += len;
    *buf.p++ = '"';
    *buf.p++ = ':';
    return true;
  }
  void flush(const Buf& buf) { out.append(buf.b, static_cast<size_t>(buf.p - buf.b)); }
  void key(const char* name) {
    Buf buf;
    if (key_into(buf, name)) return flush(buf);
    if (!first) out.push_back(',');
    first = false;
    out.append("\"").append(name).append("\":");
  }
  void str(const char* name, const std::string& v) {
    key(name);
    append_json_string(out, v.data(), v.size());
  }
  void str_or_null(const char* name, const std::string& v) {
    if (v.empty()) null(name);
    else str(name, v);
  }
  // The same, noting where the value's text went (rows point at it); a null leaves no span.
  void str_or_null(const char* name, const std::string& v, JsonSpan& at) {
    if (v.empty()) return null(name);
    key(name);
    const size_t start = out.size();
    append_json_string(out, v.data(), v.size());
    at = span_from(start);
  }
  JsonSpan span_from(size_t start) const {
    return {static_cast<uint32_t>(start), static_cast<uint32_t>(out.size() - start)};
  }
  void cstr(const char* name, const char* v) {
    key(name);
    if (v) {
      out.push_back('"');
      out.append(v);  // our own names: no escaping needed
      out.push_back('"');
    } else {
      out.append("null");
    }
  }
  // `,"name":` and the value put(p) writes at p (at most 24 bytes) in one append.
  template <typename Put>
  void short_member(const char* name, Put put) {
    Buf buf;
    if (key_into(buf, name)) {
      buf.p = put(buf.p);
      return flush(buf);
    }
    key(name);
    char b[24];
    out.append(b, static_cast<size_t>(put(b) - b));
  }
  void num(const char* name, uint64_t v) {
    short_member(name, [v](char* p) { return put_uint(p, v); });
  }
  void ms(const char* name, uint64_t ns) {
    short_member(name, [ns](char* p) { return put_ms(p, ns); });
  }
  // A signed number when `present`, else null (an answer's status before it came, say).
  void int_or_null(const char* name, int64_t v, bool present) {
    key(name);
    if (present) append_int(out, v);
    else out.append("null");
  }
  void null(const char* name) {
    key(name);
    out.append("null");
  }
  void end() { out.append("}\n"); }
  // Ends the line begun at `start`, its span ('\n' excluded) into spans when asked.
  void end(size_t start, LineSpans* spans) {
    out.push_back('}');
    if (spans) spans->line = span_from(start);
    out.push_back('\n');
  }
};

void append_ends(Obj& o, uint64_t uid, const RecordEndpoints& e, uint64_t ts, LineSpans* spans) {
  if (uid) {
    o.key("uid");
    o.out.append("\"C");
    append_uint(o.out, uid);
    o.out.push_back('"');
  } else {
    o.null("uid");
  }
  o.key("ts");
  append_iso_time(o.out, ts);
  o.key("client");
  append_address(o.out, e.ip_version, e.client);
  o.num("client_port", e.client_port);
  o.key("server");
  const size_t server = o.out.size();
  append_address(o.out, e.ip_version, e.server);
  if (spans) spans->server = o.span_from(server);
  o.num("server_port", e.server_port);
  if (e.vlan) o.num("vlan", e.vlan);
}

}  // namespace

void append_json_string(std::string& out, const char* s, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  out.push_back('"');
  for (size_t i = 0; i < n;) {
    // Runs of plain bytes (nearly all of a path or a name) go in with one append.
    size_t run = i;
    while (run < n && plain_json_byte(p[run])) ++run;
    if (run > i) {
      out.append(s + i, run - i);
      i = run;
      if (i == n) break;
    }
    const unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t len = utf8_sequence(p + i, n - i)) {
      out.append(s + i, len);
      i += len;
    } else {
      out.append("\\ufffd");  // one replacement per invalid byte
      ++i;
    }
  }
  out.push_back('"');
}

void append_ms(std::string& out, uint64_t ns) {
  char b[24];
  out.append(b, static_cast<size_t>(put_ms(b, ns) - b));
}

void append_decimal(std::string& out, double v) {
  if (!std::isfinite(v) || std::fabs(v) >= 1e15) {  // thousandths of more would not fit an int64
    out.append("null");
    return;
  }
  const uint64_t m = static_cast<uint64_t>(std::llround(std::fabs(v) * 1000));
  char b[32];
  char* p = b;
  if (v < 0 && m != 0) *p++ = '-';
  p = put_uint(p, m / 1000);
  *p++ = '.';
  p = format_fixed(p, m % 1000, 3);
  out.append(b, static_cast<size_t>(p - b));
}

void append_iso_time(std::string& out, uint64_t ns) {
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
  char b[40];  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (a year past 9999 prints its last 4 digits)
  char* p = b;
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
  out.append(b, static_cast<size_t>(p - b));
}

void append_address(std::string& out, uint8_t ip_version, const uint8_t* addr) {
  if (ip_version != 6) {
    char b[17];  // "255.255.255.255" with its quotes
    char* p = b;
    *p++ = '"';
    for (int i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      p = put_uint(p, addr[i]);
    }
    *p++ = '"';
    out.append(b, static_cast<size_t>(p - b));
    return;
  }
  char b[INET6_ADDRSTRLEN];
  out.push_back('"');
  if (inet_ntop(AF_INET6, addr, b, sizeof b)) out.append(b);
  out.push_back('"');
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

void append_json(std::string& out, const FlowRecord& r, LineSpans* spans) {
  const size_t start = out.size();
  Obj o(out);
  append_ends(o, r.uid, r.ends, r.ts, spans);
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
  o.str_or_null("close_reason", r.close_reason);
  o.str_or_null("app", r.app);
  o.end(start, spans);
}

void append_json(std::string& out, const HttpRecord& r, LineSpans* spans) {
  const size_t start = out.size();
  LineSpans unused;
  LineSpans& at = spans ? *spans : unused;
  Obj o(out);
  append_ends(o, r.uid, r.ends, r.ts, spans);
  o.str_or_null("version", r.version);
  o.num("stream_id", r.stream_id);
  o.str_or_null("method", r.method, at.a);
  o.str_or_null("host", r.host);
  o.str_or_null("path", r.path);
  o.str_or_null("route", r.route, at.b);
  o.int_or_null("status", r.status, r.status > 0);
  o.int_or_null("grpc_status", r.grpc_status, r.grpc_status >= 0);
  o.num("request_bytes", r.request_bytes);
  o.num("response_bytes", r.response_bytes);
  o.ms("latency_ms", r.latency);
  o.ms("duration_ms", r.duration);
  o.str_or_null("note", r.note);
  o.end(start, spans);
}

void append_json(std::string& out, const DnsRecord& r, LineSpans* spans) {
  const size_t start = out.size();
  LineSpans unused;
  LineSpans& at = spans ? *spans : unused;
  Obj o(out);
  append_ends(o, r.uid, r.ends, r.ts, spans);
  o.str_or_null("proto", r.proto);
  o.num("trans_id", r.trans_id);
  o.key("query");
  size_t value = out.size();
  append_json_string(out, r.query.data(), r.query.size());
  at.a = o.span_from(value);
  o.num("qtype", r.qtype);
  o.key("qtype_name");
  value = out.size();
  if (const char* name = dns_type_name(r.qtype)) {
    out.push_back('"');
    out.append(name);
    out.push_back('"');
  } else {
    out.append("\"TYPE");
    append_uint(out, r.qtype);
    out.push_back('"');
  }
  at.b = o.span_from(value);
  if (r.rcode >= 0) {
    o.key("rcode");
    append_int(out, r.rcode);
    o.key("rcode_name");
    value = out.size();
    if (const char* name = dns_rcode_name(r.rcode)) {
      out.push_back('"');
      out.append(name);
      out.push_back('"');
    } else {
      out.append("\"RCODE");
      append_int(out, r.rcode);
      out.push_back('"');
    }
    at.c = o.span_from(value);
  } else {
    o.null("rcode");
    o.null("rcode_name");
  }
  o.num("answers", r.answers);
  o.ms("latency_ms", r.latency);
  o.end(start, spans);
}

void append_json(std::string& out, const AlertRecord& r) {
  Obj o(out);
  o.key("ts");
  append_iso_time(out, r.ts);
  o.cstr("kind", alert_kind_name(r.kind));
  o.key("alert_id");
  out.append("\"A");
  append_uint(out, r.id);
  out.push_back('"');
  o.cstr("state", r.cleared ? "cleared" : "fired");
  if (r.has_server) {
    o.key("server");
    append_address(out, r.ends.ip_version, r.ends.server);
    o.num("server_port", r.ends.server_port);
  } else {
    o.null("server");
    o.null("server_port");
  }
  if (r.has_source) {
    o.key("source");
    append_address(out, r.ends.ip_version, r.ends.client);
  } else {
    o.null("source");
  }
  o.str_or_null("route", r.route);
  o.key("rate");
  append_decimal(out, r.rate);
  o.key("baseline");
  append_decimal(out, r.baseline);
  o.key("threshold");
  append_decimal(out, r.threshold);
  o.cstr("unit", alert_unit(r.kind));
  o.key("share");
  if (r.share >= 0) append_decimal(out, r.share);
  else out.append("null");
  o.str_or_null("evidence", r.evidence);
  if (r.cleared) {
    o.key("started");
    append_iso_time(out, r.started);
    o.key("duration_s");
    append_decimal(out, r.ts >= r.started ? static_cast<double>(r.ts - r.started) / 1e9 : 0);
  } else {
    o.null("started");
    o.null("duration_s");
  }
  o.end();
}

}  // namespace podspan
