#include "common/packet.h"

#include <cstring>

namespace podspan {

PacketRecord& Batch::append(const uint8_t* bytes, uint32_t caplen, uint32_t origlen,
                            uint64_t ts_ns, uint32_t iface, const uint8_t* opts,
                            uint32_t optlen) {
  const size_t need = used + caplen + optlen;
  if (need > data.size()) data.resize(need > data.size() * 2 ? need : data.size() * 2);
  PacketRecord rec;
  rec.ts_ns = ts_ns;
  rec.offset = static_cast<uint32_t>(used);
  rec.caplen = caplen;
  rec.origlen = origlen;
  rec.iface = iface;
  rec.optlen = optlen;
  if (caplen) std::memcpy(data.data() + used, bytes, caplen);
  if (optlen) std::memcpy(data.data() + used + caplen, opts, optlen);
  used = need;
  records.push_back(rec);
  return records.back();
}

void BatchStoragePool::put(std::vector<uint8_t>&& data) {
  std::lock_guard<std::mutex> lk(mu_);
  if (kept_.size() < max_kept_) kept_.push_back(std::move(data));
}

void BatchStoragePool::refill(std::vector<uint8_t>& data) {
  std::lock_guard<std::mutex> lk(mu_);
  if (kept_.empty() || data.capacity()) return;
  data = std::move(kept_.back());
  kept_.pop_back();
}

}  // namespace podspan
