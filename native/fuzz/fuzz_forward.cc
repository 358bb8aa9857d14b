// libFuzzer target: any bytes as frames of each link type through the forwarding paths: the
// VXLAN, GENEVE (with the podspan option) and GRE (key, sequence; when a raw socket can be had)
// encapsulations (synthetic Ethernet, truncation, MTU policy; sent to loopback, nobody listening)
// and the column split over collectors. ASan catches any read or write out of bounds; the
// split must account for every frame.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "forward/columnar.h"
#include "common/packet.h"
#include "forward/encap_sender.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  static const uint16_t kLinktypes[] = {kLinktypeEthernet, kLinktypeLinuxSll, kLinktypeLinuxSll2, kLinktypeRaw,
                                        kLinktypeIpv4, kLinktypeIpv6, kLinktypeNull};
  static std::vector<std::unique_ptr<EncapSender>> senders = [] {
    std::vector<std::unique_ptr<EncapSender>> out;
    for (Encapsulation kind : {Encapsulation::kVxlan, Encapsulation::kGeneve, Encapsulation::kGre, Encapsulation::kErspan2, Encapsulation::kErspan3}) {
      EncapOptions o;
      o.host = "127.0.0.1";
      o.port = 9;
      o.mtu = 600;
      o.truncate = 300;
      o.oversize = OversizePolicy::kTruncate;
      o.header.kind = kind;
      o.header.podspan_option = o.header.gre_key = o.header.gre_sequence = true;
      try {
        out.push_back(std::make_unique<EncapSender>(o));
      } catch (const std::exception&) {
        continue;  // GRE without CAP_NET_RAW
      }
      for (uint16_t lt : kLinktypes) {
        InterfaceInfo i;
        i.linktype = lt;
        out.back()->add_interface(i);
      }
    }
    return out;
  }();
  if (size < 2) return 0;
  EncapSender* sender = senders[(data[1] >> 3) % senders.size()].get();
  const uint32_t iface = data[0] % (sizeof kLinktypes / sizeof kLinktypes[0]);
  const uint64_t up = data[1] & 7;
  Batch batch;
  // Frames: the rest of the input cut into pieces at every 0xff byte (exact-size copies).
  std::vector<std::vector<uint8_t>> frames(1);
  for (size_t i = 2; i < size; ++i) {
    if (data[i] == 0xff) frames.emplace_back();
    else frames.back().push_back(data[i]);
  }
  for (const auto& f : frames) {
    PacketRecord& rec = batch.append(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()), 1, iface);
    sender->consume(rec, batch.data.data() + rec.offset);
  }
  sender->dispatched();
  const std::vector<uint16_t> linktypes(kLinktypes, kLinktypes + sizeof kLinktypes / sizeof kLinktypes[0]);
  std::vector<FrameColumns> out;
  uint64_t unrouted = 0;
  std::vector<uint64_t> moved;
  split_columns(batch, linktypes, 3, up, out, unrouted, moved);
  size_t total = unrouted;
  for (const auto& c : out) total += c.count();
  if (total != frames.size()) __builtin_trap();
  return 0;
}
