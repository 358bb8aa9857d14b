// JSON lines of the records: exact text for known records, and strings from the network
// (quotes, control bytes, invalid UTF-8) escaped so the line stays valid JSON.
#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "check.h"
#include "analysis/json_records.h"

using namespace podspan;

namespace {
std::string js(const std::string& s) {
  std::string out;
  append_json_string(out, s.data(), s.size());
  return out;
}
}  // namespace

TEST(json_string_escapes) {
  CHECK_EQ(js("a\"b\\c"), std::string("\"a\\\"b\\\\c\""));
  CHECK_EQ(js(std::string("\x01\n\x1f\x7f", 4)), std::string("\"\\u0001\\u000a\\u001f\\u007f\""));
  CHECK_EQ(js("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
  CHECK_EQ(js("\xff\xc3"), std::string("\"\\ufffd\\ufffd\""));        // invalid byte, truncated sequence
  CHECK_EQ(js("\xc0\xaf"), std::string("\"\\ufffd\\ufffd\""));        // overlong '/'
  CHECK_EQ(js("\xed\xa0\x80"), std::string("\"\\ufffd\\ufffd\\ufffd\""));  // a surrogate
  CHECK_EQ(js("\xf4\x90\x80\x80"), std::string("\"\\ufffd\\ufffd\\ufffd\\ufffd\""));  // past U+10FFFF
  CHECK_EQ(js(std::string("a\0b", 3)), std::string("\"a\\u0000b\""));
}

TEST(json_ms_and_time) {
  std::string s;
  append_ms(s, 12345678);
  CHECK_EQ(s, std::string("12.346"));
  s.clear();
  append_ms(s, 0);
  CHECK_EQ(s, std::string("0.000"));
  s.clear();
  append_ms(s, kUnknownNs);
  CHECK_EQ(s, std::string("null"));
  s.clear();
  append_iso_time(s, 1795860000123456789ull);
  CHECK_EQ(s, std::string("\"2026-11-28T10:00:00.123456789Z\""));
}

TEST(json_ipv6_compressed) {
  uint8_t a[16];
  inet_pton(AF_INET6, "2001:db8:0:0:0:0:0:1", a);
  std::string s;
  append_address(s, 6, a);
  CHECK_EQ(s, std::string("\"2001:db8::1\""));
}

TEST(json_flow_line_exact) {
  FlowRecord r;
  r.uid = 7;
  r.ends.ip_version = 4;
  const uint8_t c[4] = {10, 0, 0, 1}, sv[4] = {10, 0, 0, 2};
  std::memcpy(r.ends.client, c, 4);
  std::memcpy(r.ends.server, sv, 4);
  r.ends.client_port = 40000;
  r.ends.server_port = 80;
  r.ends.vlan = 12;
  r.ts = 1795860000000001000ull;
  r.duration = 32000000;
  r.client_bytes = 18;
  r.server_bytes = 24;
  r.client_packets = 3;
  r.server_packets = 3;
  r.handshake_rtt = 12000000;
  r.server_rtt = 10000000;
  r.client_rtt = 2000000;
  r.state = ConnState::kClosed;
  r.close_reason = "fin";
  std::string out;
  append_json(out, r);
  CHECK_EQ(out, std::string(
                    "{\"uid\":\"C7\",\"ts\":\"2026-11-28T10:00:00.000001000Z\",\"client\":\"10.0.0.1\",\"client_port\":40000,"
                    "\"server\":\"10.0.0.2\",\"server_port\":80,\"vlan\":12,\"proto\":\"tcp\",\"duration_ms\":32.000,"
                    "\"client_bytes\":18,\"server_bytes\":24,\"client_packets\":3,\"server_packets\":3,"
                    "\"handshake_rtt_ms\":12.000,\"client_rtt_ms\":2.000,\"server_rtt_ms\":10.000,"
                    "\"retransmitted_packets\":0,\"out_of_order_packets\":0,\"zero_window_events\":0,\"missed_bytes\":0,"
                    "\"state\":\"closed\",\"close_reason\":\"fin\",\"app\":null}\n"));
}

TEST(json_http_and_dns_lines) {
  HttpRecord h;
  h.uid = 3;
  h.ts = 1795860000000000000ull;
  h.version = "1.1";
  h.method = "GET";
  h.host = "a\"b";
  h.path = "/x\x01";
  h.route = "/x";
  h.status = 200;
  h.request_bytes = 10;
  h.response_bytes = 20;
  h.latency = 1500;
  h.duration = kUnknownNs;
  std::string out;
  append_json(out, h);
  CHECK_EQ(out, std::string("{\"uid\":\"C3\",\"ts\":\"2026-11-28T10:00:00.000000000Z\",\"client\":\"0.0.0.0\",\"client_port\":0,"
                            "\"server\":\"0.0.0.0\",\"server_port\":0,\"version\":\"1.1\",\"stream_id\":0,\"method\":\"GET\","
                            "\"host\":\"a\\\"b\",\"path\":\"/x\\u0001\",\"route\":\"/x\",\"status\":200,\"grpc_status\":null,"
                            "\"request_bytes\":10,\"response_bytes\":20,\"latency_ms\":0.002,\"duration_ms\":null,\"note\":null}\n"));
  DnsRecord d;
  d.proto = "udp";
  d.ts = 1795860000000000000ull;
  d.trans_id = 4660;
  d.query = "example.com";
  d.qtype = 28;
  d.rcode = 3;
  d.answers = 0;
  d.latency = 2000000;
  out.clear();
  append_json(out, d);
  CHECK_EQ(out, std::string("{\"uid\":null,\"ts\":\"2026-11-28T10:00:00.000000000Z\",\"client\":\"0.0.0.0\",\"client_port\":0,"
                            "\"server\":\"0.0.0.0\",\"server_port\":0,\"proto\":\"udp\",\"trans_id\":4660,\"query\":\"example.com\","
                            "\"qtype\":28,\"qtype_name\":\"AAAA\",\"rcode\":3,\"rcode_name\":\"NXDOMAIN\",\"answers\":0,\"latency_ms\":2.000}\n"));
  d.qtype = 999;
  d.rcode = -1;
  out.clear();
  append_json(out, d);
  CHECK(out.find("\"qtype_name\":\"TYPE999\",\"rcode\":null,\"rcode_name\":null") != std::string::npos);
}

TEST(json_iso_time_matches_gmtime) {
  // Days from 1970 to past 2100 (leap years, century rules), against the C library's gmtime.
  for (uint64_t secs = 0; secs < 4200000000ull; secs += 86400ull * 37 + 3671) {
    std::string ours;
    append_iso_time(ours, secs * 1000000000ull + 7);
    const time_t t = static_cast<time_t>(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[64];
    std::snprintf(want, sizeof want, "\"%04d-%02d-%02dT%02d:%02d:%02d.000000007Z\"", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ours != want) {
      CHECK_EQ(ours, std::string(want));
      break;
    }
  }
  std::string s;
  append_iso_time(s, 951782400ull * 1000000000ull);  // 2000-02-29
  CHECK_EQ(s, std::string("\"2000-02-29T00:00:00.000000000Z\""));
}
