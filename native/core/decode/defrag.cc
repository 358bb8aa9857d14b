#include "decode/defrag.h"

#include <algorithm>
#include <cstring>

namespace podspan {

namespace {
constexpr uint32_t kMaxDatagram = 65535;
}

bool Defragmenter::Key::operator==(const Key& o) const {
  return ip_version == o.ip_version && protocol == o.protocol && vlan == o.vlan && id == o.id &&
         std::memcmp(src, o.src, 16) == 0 && std::memcmp(dst, o.dst, 16) == 0;
}

size_t Defragmenter::KeyHash::operator()(const Key& k) const {
  uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const uint8_t*>(&k);
  for (size_t i = 0; i < sizeof k; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return static_cast<size_t>(h);
}

Defragmenter::Defragmenter(DefragConfig config) : cfg_(config) {}
Defragmenter::~Defragmenter() = default;

void Defragmenter::drop(Datagram* g) {
  stats_.bytes_held -= g->data.size() * 2;
  by_age_.erase(g->age);
  const Key key = g->key;
  pending_.erase(key);
  stats_.datagrams = pending_.size();
}

bool Defragmenter::add(const Decoded& d, const uint8_t* frame, uint32_t caplen, uint64_t ts, std::vector<uint8_t>& out) {
  ++stats_.fragments;
  // This fragment's part of the datagram: everything after the IP header(s).
  const uint32_t len = d.frag_data_len;
  const uint32_t start = d.frag_offset;
  if (d.frag_data_offset > caplen || caplen - d.frag_data_offset < len || start + len > kMaxDatagram ||
      (d.more_fragments && len % 8 != 0)) {
    ++stats_.dropped;  // cut by the snaplen, or impossible
    return false;
  }
  Key key{};
  key.ip_version = d.ip_version;
  key.protocol = d.ip_version == 4 ? d.protocol : 0;
  key.vlan = d.vlan_count ? d.vlan[d.vlan_count - 1] : 0;
  key.id = d.frag_id;
  const size_t alen = d.ip_version == 4 ? 4 : 16;
  std::memcpy(key.src, d.src, alen);
  std::memcpy(key.dst, d.dst, alen);

  auto it = pending_.find(key);
  Datagram* g;
  if (it == pending_.end()) {
    if (pending_.size() >= cfg_.max_datagrams || stats_.bytes_held >= cfg_.max_bytes) {
      ++stats_.dropped;
      return false;
    }
    auto fresh = std::make_unique<Datagram>();
    g = fresh.get();
    g->key = key;
    g->first_ts = ts;
    by_age_.push_back(g);
    g->age = std::prev(by_age_.end());
    pending_.emplace(key, std::move(fresh));
    stats_.datagrams = pending_.size();
  } else {
    g = it->second.get();
  }
  if (++g->fragments > cfg_.max_fragments) {
    ++stats_.dropped;
    drop(g);
    return false;
  }
  const uint32_t end = start + len;
  if (end > g->data.size()) {
    const size_t grow = end - g->data.size();
    if (stats_.bytes_held + grow * 2 > cfg_.max_bytes) {
      ++stats_.dropped;
      drop(g);
      return false;
    }
    g->data.resize(end, 0);
    g->have.resize(end, 0);
    stats_.bytes_held += grow * 2;
  }
  // First wins: only bytes not yet received are taken.
  const uint8_t* src = frame + d.frag_data_offset;
  bool conflict = false;
  for (uint32_t i = 0; i < len; ++i) {
    if (g->have[start + i]) {
      ++stats_.overlap_bytes;
      conflict |= g->data[start + i] != src[i];
    } else {
      g->data[start + i] = src[i];
      g->have[start + i] = 1;
    }
  }
  if (conflict) ++stats_.overlap_conflicts;
  if (start == 0) {
    const uint8_t* ip = frame + d.l3_offset;
    if (d.ip_version == 4) {
      g->header.assign(ip, ip + (d.frag_data_offset - d.l3_offset));
    } else {
      g->header.assign(ip, ip + 40);
      g->next_header = d.frag_next;
    }
  }
  if (!d.more_fragments) g->total = end;
  if (g->total == 0 || g->header.empty() || g->data.size() < g->total ||
      std::find(g->have.begin(), g->have.begin() + g->total, 0) != g->have.begin() + g->total) {
    return false;
  }
  // Complete: the first fragment's header, now unfragmented, in front of the whole payload.
  out.assign(g->header.begin(), g->header.end());
  const uint32_t total = g->total;
  if (d.ip_version == 4) {
    const uint32_t ip_len = static_cast<uint32_t>(out.size()) + total;
    out[2] = static_cast<uint8_t>(ip_len >> 8);
    out[3] = static_cast<uint8_t>(ip_len);
    out[6] = 0;
    out[7] = 0;
  } else {
    out[4] = static_cast<uint8_t>(total >> 8);
    out[5] = static_cast<uint8_t>(total);
    out[6] = g->next_header;
  }
  out.insert(out.end(), g->data.begin(), g->data.begin() + total);
  ++stats_.reassembled;
  drop(g);
  return true;
}

void Defragmenter::expire(uint64_t now) {
  while (!by_age_.empty() && by_age_.front()->first_ts + cfg_.timeout_ns < now) {
    ++stats_.timed_out;
    drop(by_age_.front());
  }
}

}  // namespace podspan
