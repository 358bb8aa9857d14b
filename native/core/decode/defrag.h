// IPv4 and IPv6 fragment reassembly with hard limits, so a flood of fragments cannot exhaust
// memory: bytes held overall, datagrams in progress, fragments per datagram, datagram size and
// time. Overlaps are resolved first-wins (like TCP) and overlaps whose bytes differ are counted.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "decode/decode.h"

namespace podspan {

struct DefragConfig {
  size_t max_bytes = 32u << 20;      // bytes held by all datagrams in progress
  size_t max_datagrams = 4096;       // datagrams in progress
  size_t max_fragments = 64;         // fragments of one datagram
  uint64_t timeout_ns = 30ull * 1000000000ull;
};

struct DefragStats {
  uint64_t fragments = 0, reassembled = 0, timed_out = 0;
  uint64_t dropped = 0;              // fragments dropped by a limit, or truncated by the snaplen
  uint64_t overlap_bytes = 0, overlap_conflicts = 0;
  uint64_t bytes_held = 0, datagrams = 0;
};

class Defragmenter {
 public:
  explicit Defragmenter(DefragConfig config = {});
  ~Defragmenter();

  // Adds a fragment (d.fragment) of `frame`. When it completes its datagram, returns true and
  // fills `out` with the whole IP packet (header + payload, as LINKTYPE_RAW).
  bool add(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint64_t ts, std::vector<uint8_t>& out);
  void expire(uint64_t now);
  const DefragStats& stats() const { return stats_; }

 private:
  struct Key {
    uint8_t ip_version, protocol;
    uint16_t vlan;
    uint32_t id;
    uint8_t src[16], dst[16];
    bool operator==(const Key& o) const;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Datagram {
    Key key;
    std::vector<uint8_t> data, have;  // payload so far, and which bytes arrived
    std::vector<uint8_t> header;      // the first fragment's IP header (IPv4) or fixed header (IPv6)
    uint8_t next_header = 0;          // IPv6: upper-layer protocol after the fragment header
    uint32_t total = 0;               // payload length, known once the last fragment arrived
    uint32_t fragments = 0;
    uint64_t first_ts = 0;
    std::list<Datagram*>::iterator age;
  };
  void drop(Datagram* g);

  DefragConfig cfg_;
  DefragStats stats_;
  std::unordered_map<Key, std::unique_ptr<Datagram>, KeyHash> pending_;
  std::list<Datagram*> by_age_;
};

}  // namespace podspan
