#include "protocols/dns.h"

#include <algorithm>

namespace podspan {

namespace {

constexpr size_t kHeader = 12;
constexpr size_t kMaxName = 255;  // wire length of a name (RFC 1035 2.3.4)
constexpr int kMaxJumps = 16;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Decodes the name at `pos`; `end_pos` is where the bytes after it start (after the first
// pointer, if any). False when it runs past the end, loops, or is too long.
bool read_name(const uint8_t* data, size_t len, size_t pos, std::string& out, size_t& end_pos) {
  out.clear();
  size_t wire = 0;
  int jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return false;
    const uint8_t l = data[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len || ++jumps > kMaxJumps) return false;
      if (!jumped) end_pos = pos + 2;
      jumped = true;
      const size_t target = static_cast<size_t>((l & 0x3f) << 8 | data[pos + 1]);
      if (target >= pos) return false;  // only backwards: no loops, each jump makes progress
      pos = target;
      continue;
    }
    if (l & 0xc0) return false;  // 0x40 and 0x80 label types are obsolete / unassigned
    if (l == 0) {
      if (!jumped) end_pos = pos + 1;
      return true;
    }
    wire += 1 + l;
    if (wire > kMaxName || pos + 1 + l > len) return false;
    if (!out.empty()) out += '.';
    for (size_t i = pos + 1; i <= pos + l; ++i) {
      const uint8_t c = data[i];
      if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
        out += static_cast<char>(c);
      } else {
        out += '\\';
        out += static_cast<char>('0' + c / 100);
        out += static_cast<char>('0' + c / 10 % 10);
        out += static_cast<char>('0' + c % 10);
      }
    }
    pos += 1 + l;
  }
}

}  // namespace

DnsParse parse_dns(const uint8_t* data, size_t len, DnsMessage& m) {
  m.qname.clear();
  m.qtype = m.qclass = 0;
  if (len < kHeader) return DnsParse::kShort;
  m.id = be16(data);
  m.response = (data[2] & 0x80) != 0;
  m.opcode = (data[2] >> 3) & 0x0f;
  m.truncated = (data[2] & 0x02) != 0;
  m.rcode = data[3] & 0x0f;
  m.questions = be16(data + 4);
  m.answers = be16(data + 6);
  m.authorities = be16(data + 8);
  m.additionals = be16(data + 10);
  if (m.questions == 0) return DnsParse::kOk;
  size_t after = 0;
  if (!read_name(data, len, kHeader, m.qname, after) || after + 4 > len) {
    m.qname.clear();
    return DnsParse::kMalformed;
  }
  m.qtype = be16(data + after);
  m.qclass = be16(data + after + 2);
  return DnsParse::kOk;
}

void DnsTcpFramer::reset() {
  prefix_have_ = need_ = 0;
  buf_.clear();
  stopped_ = false;
}

void DnsTcpFramer::feed(uint64_t offset, const uint8_t* data, size_t len, uint64_t ts) {
  size_t i = 0;
  while (i < len && !stopped_) {
    if (prefix_have_ < 2) {
      if (prefix_have_ == 0) {
        start_ = offset + i;
        first_ts_ = ts;
      }
      prefix_[prefix_have_++] = data[i++];
      if (prefix_have_ == 2) {
        need_ = be16(prefix_);
        buf_.clear();
      }
      if (prefix_have_ < 2 || need_ > 0) continue;
    }
    const size_t n = std::min(len - i, need_);
    const uint8_t* msg = data + i;
    // Whole in this segment: handed over in place; else assembled.
    if (buf_.empty() && n == need_) {
      i += n;
      need_ = 0;
      prefix_have_ = 0;
      events_.on_dns_message(msg, n, start_, offset + i, first_ts_, ts);
      continue;
    }
    buf_.append(reinterpret_cast<const char*>(msg), n);
    i += n;
    need_ -= n;
    if (need_ == 0) {
      prefix_have_ = 0;
      events_.on_dns_message(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size(), start_, offset + i, first_ts_, ts);
      buf_.clear();
    }
  }
}

}  // namespace podspan
