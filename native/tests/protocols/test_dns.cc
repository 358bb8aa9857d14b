// DNS: header fields, the first question's name through compression pointers (loops, forward
// pointers and overlong names refused), odd bytes escaped, and TCP's 2-byte framing with
// messages cut at every byte.
#include <string>
#include <vector>

#include "check.h"
#include "protocols/dns.h"

using namespace podspan;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes header(uint16_t id, uint8_t flags2, uint8_t flags3, uint16_t qd, uint16_t an) {
  return {uint8_t(id >> 8), uint8_t(id), flags2, flags3, 0, uint8_t(qd), 0, uint8_t(an), 0, 0, 0, 0};
}
void name(Bytes& b, std::vector<std::string> labels) {
  for (const auto& l : labels) {
    b.push_back(uint8_t(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
}
void u16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

// A response to "www.example.com AAAA": the question, then two answers whose names are
// pointers (one to the question, one to "example.com" inside it, behind a label).
Bytes response() {
  Bytes b = header(0xbeef, 0x81, 0x80 | 3, 1, 2);  // QR, RD, RA; rcode 3 (NXDOMAIN)
  name(b, {"www", "example", "com"});
  u16(b, 28);
  u16(b, 1);
  b.insert(b.end(), {0xc0, 12});
  u16(b, 28); u16(b, 1); b.insert(b.end(), {0, 0, 0, 60, 0, 0});
  b.insert(b.end(), {4, 'm', 'a', 'i', 'l', 0xc0, 16});
  u16(b, 1); u16(b, 1); b.insert(b.end(), {0, 0, 0, 60, 0, 4, 1, 2, 3, 4});
  return b;
}

struct Collected : DnsTcpFramer::Events {
  struct M {
    Bytes bytes;
    uint64_t start, end, first_ts, last_ts;
  };
  std::vector<M> messages;
  void on_dns_message(const uint8_t* d, size_t n, uint64_t s, uint64_t e, uint64_t f, uint64_t l) override {
    messages.push_back({Bytes(d, d + n), s, e, f, l});
  }
};

}  // namespace

TEST(dns_header_and_question) {
  Bytes q = header(0x1234, 0x01, 0x00, 1, 0);
  name(q, {"Api", "svc", "cluster", "local"});
  u16(q, 1);
  u16(q, 1);
  DnsMessage m;
  CHECK(parse_dns(q.data(), q.size(), m) == DnsParse::kOk);
  CHECK_EQ(m.id, 0x1234);
  CHECK(!m.response);
  CHECK_EQ(m.qname, "Api.svc.cluster.local");
  CHECK_EQ(m.qtype, 1);
  CHECK_EQ(m.qclass, 1);
  CHECK_EQ(m.questions, 1);

  const Bytes r = response();
  CHECK(parse_dns(r.data(), r.size(), m) == DnsParse::kOk);
  CHECK(m.response);
  CHECK_EQ(int(m.rcode), 3);
  CHECK_EQ(m.answers, 2);
  CHECK_EQ(m.qname, "www.example.com");
  CHECK_EQ(m.qtype, 28);
}

TEST(dns_question_name_through_pointers) {
  // Pointers may only go backwards and a first question starts right after the header, so a
  // question name can only point into the header: crafted here (NSCOUNT's bytes read as the
  // label "z" and ARCOUNT's first byte as the root) to take the pointer path.
  Bytes b = header(1, 0, 0, 1, 0);
  b[8] = 1;
  b[9] = 'z';
  b[10] = 0;
  b.insert(b.end(), {1, 'a', 0xc0, 8});  // "a" + pointer to offset 8
  u16(b, 16);
  u16(b, 1);
  DnsMessage m;
  CHECK(parse_dns(b.data(), b.size(), m) == DnsParse::kOk);
  CHECK_EQ(m.qname, "a.z");
  CHECK_EQ(m.qtype, 16);
  CHECK_EQ(m.qclass, 1);
}

TEST(dns_bad_names_are_malformed_not_crashes) {
  DnsMessage m;
  // A pointer to itself (a loop).
  Bytes loop = header(2, 0, 0, 1, 0);
  loop.insert(loop.end(), {0xc0, 12, 0, 1, 0, 1});
  CHECK(parse_dns(loop.data(), loop.size(), m) == DnsParse::kMalformed);
  CHECK_EQ(m.id, 2);
  // A forward pointer.
  Bytes fwd = header(3, 0, 0, 1, 0);
  fwd.insert(fwd.end(), {0xc0, 20, 0, 1, 0, 1, 0, 0, 1, 'a', 0});
  CHECK(parse_dns(fwd.data(), fwd.size(), m) == DnsParse::kMalformed);
  // A name longer than 255 bytes.
  Bytes longname = header(4, 0, 0, 1, 0);
  name(longname, std::vector<std::string>(5, std::string(60, 'x')));
  u16(longname, 1);
  u16(longname, 1);
  CHECK(parse_dns(longname.data(), longname.size(), m) == DnsParse::kMalformed);
  // A label running past the end, and a question without its type.
  Bytes cut = header(5, 0, 0, 1, 0);
  cut.insert(cut.end(), {10, 'a', 'b'});
  CHECK(parse_dns(cut.data(), cut.size(), m) == DnsParse::kMalformed);
  Bytes notype = header(6, 0, 0, 1, 0);
  name(notype, {"a"});
  CHECK(parse_dns(notype.data(), notype.size(), m) == DnsParse::kMalformed);
  CHECK(parse_dns(notype.data(), 11, m) == DnsParse::kShort);
  // Bytes outside printable ASCII and a dot inside a label are escaped.
  Bytes odd = header(7, 0, 0, 1, 0);
  odd.insert(odd.end(), {3, 'a', '.', 0x07, 0});
  u16(odd, 1);
  u16(odd, 1);
  CHECK(parse_dns(odd.data(), odd.size(), m) == DnsParse::kOk);
  CHECK_EQ(m.qname, "a\\046\\007");
}

TEST(dns_tcp_framing_at_every_split) {
  Bytes q = header(9, 1, 0, 1, 0);
  name(q, {"example", "org"});
  u16(q, 1);
  u16(q, 1);
  const Bytes r = response();
  Bytes stream;
  for (const Bytes* m : std::initializer_list<const Bytes*>{&q, &r}) {
    u16(stream, uint16_t(m->size()));
    stream.insert(stream.end(), m->begin(), m->end());
  }
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    Collected c;
    DnsTcpFramer f(c);
    f.feed(100, stream.data(), cut, 1);
    f.feed(100 + cut, stream.data() + cut, stream.size() - cut, 2);
    CHECK_EQ(c.messages.size(), 2u);
    if (c.messages.size() != 2) return;
    CHECK(c.messages[0].bytes == q);
    CHECK(c.messages[1].bytes == r);
    CHECK_EQ(c.messages[0].start, 100u);
    CHECK_EQ(c.messages[0].end, 100u + 2 + q.size());
    CHECK_EQ(c.messages[1].start, 100u + 2 + q.size());
    CHECK_EQ(c.messages[1].end, 100u + stream.size());
    CHECK_EQ(c.messages[1].last_ts, cut == stream.size() ? 1u : 2u);
    CHECK_EQ(c.messages[0].first_ts, cut == 0 ? 2u : 1u);
  }
  Collected c;
  DnsTcpFramer f(c);
  f.feed(0, stream.data(), 5, 1);
  f.gap();
  f.feed(50, stream.data() + 5, stream.size() - 5, 2);
  CHECK_EQ(c.messages.size(), 0u);
  CHECK(f.stopped());
}
