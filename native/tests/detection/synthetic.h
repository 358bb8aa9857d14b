// Synthetic packets for the detection tests: decoded TCP and UDP headers between 10.x.y.z hosts,
// capture seconds from a fixed origin, and an EvidenceSink that keeps what it was asked.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "decode/decode.h"
#include "detection/evidence_sink.h"

namespace podspan_test {
namespace synthetic {

using podspan::Decoded;

constexpr uint64_t kT0 = 1790000000ull;  // a second of capture time
inline uint64_t at(uint64_t second, uint64_t i = 0, uint64_t n = 1) { return (kT0 + second) * 1000000000ull + i * (1000000000ull / n); }

inline void set_addr(uint8_t* a, uint32_t host) {  // 10.x.y.z
  a[0] = 10;
  a[1] = static_cast<uint8_t>(host >> 16);
  a[2] = static_cast<uint8_t>(host >> 8);
  a[3] = static_cast<uint8_t>(host);
}

inline Decoded tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags) {
  Decoded d;
  d.ip_version = 4;
  d.protocol = 6;
  set_addr(d.src, src);
  set_addr(d.dst, dst);
  d.sport = sport;
  d.dport = dport;
  d.tcp_flags = flags;
  return d;
}

inline Decoded udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
  Decoded d = tcp(src, sport, dst, dport, 0);
  d.protocol = 17;
  return d;
}

// Keeps each trigger; the file it names is "evidence/<name>.pcapng" (a prefix tells recorders apart).
struct KeptEvidence : podspan::EvidenceSink {
  explicit KeptEvidence(std::string dir = "evidence") : dir(std::move(dir)) {}
  std::string dir;
  std::vector<std::string> names, comments;
  std::vector<uint64_t> ts;
  std::string trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) override {
    names.push_back(name);
    comments.push_back(comment);
    ts.push_back(alert_ts);
    return dir + "/" + name + ".pcapng";
  }
};

}  // namespace synthetic
}  // namespace podspan_test
