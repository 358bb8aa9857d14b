// DNS messages (RFC 1035): the header, the first question (its name decoded through compression
// pointers, bounded) and the answer count; over UDP one message per datagram, over TCP each
// message behind a 2-byte length (DnsTcpFramer finds them in a direction's byte stream).
#pragma once

#include <cstdint>
#include <string>

namespace podspan {

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;  // QR
  uint8_t opcode = 0;
  uint8_t rcode = 0;
  bool truncated = false;  // TC
  uint16_t questions = 0, answers = 0, authorities = 0, additionals = 0;
  // The first question ("" when there is none): the name with dots between labels, bytes
  // outside printable ASCII and dots inside labels written as \DDD (as dig does).
  std::string qname;
  uint16_t qtype = 0, qclass = 0;
};

enum class DnsParse : uint8_t {
  kOk,
  kShort,      // shorter than a header (12 bytes)
  kMalformed,  // the question runs past the end, a pointer loops, a name is too long
};

// Parses `msg` (reusing msg.qname's buffer). On kMalformed the header fields are still set.
DnsParse parse_dns(const uint8_t* data, size_t len, DnsMessage& msg);

// The messages of one TCP direction, each behind its 2-byte length. The message bytes are
// handed over whole, with their offsets in the stream and the times of their first and last
// byte; a message split over segments is assembled in a buffer reused from one to the next.
class DnsTcpFramer {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // [start, end) is the message with its length prefix; `data` the message without it.
    virtual void on_dns_message(const uint8_t* data, size_t len, uint64_t start, uint64_t end, uint64_t first_ts,
                                uint64_t last_ts) = 0;
  };
  explicit DnsTcpFramer(Events& events) : events_(events) {}
  void reset();
  void feed(uint64_t offset, const uint8_t* data, size_t len, uint64_t ts);
  void gap() { stopped_ = true; }  // no resync: a length prefix cannot be told from message bytes
  bool stopped() const { return stopped_; }

 private:
  Events& events_;
  uint8_t prefix_[2];
  size_t prefix_have_ = 0;
  size_t need_ = 0;  // message bytes still missing, once the prefix is read
  std::string buf_;
  uint64_t start_ = 0, first_ts_ = 0;
  bool stopped_ = false;
};

}  // namespace podspan
