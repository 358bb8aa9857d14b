// libFuzzer target: any bytes as frames of each link type through the forwarding paths: the
// VXLAN, GENEVE (with the podspan option) and GRE (key, sequence; when a raw socket can be had)
// encapsulations (synthetic Ethernet, truncation, MTU policy; sent to loopback, nobody listening)
// and the split over collectors into FrameBatch messages (copied, and written around the frames
// left in the batch). ASan catches any read or write out of bounds; the split must account for
// every frame, each message pass the collector's check, and both forms be the same bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "forward/columnar.h"
#include "forward/frame_batch.h"
#include "forward/frame_message.h"
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
  SplitPlan plan;
  plan_split(batch, linktypes, 3, up, plan);
  size_t total = plan.unrouted;
  for (uint64_t n : plan.frames) total += n;
  if (total != frames.size()) __builtin_trap();
  // Each collector's share as a FrameBatch message: the collector's own check must accept it.
  std::vector<uint8_t> head = {0x0a, 1, 'a'};
  for (size_t i = 0; i < linktypes.size(); ++i) head.insert(head.end(), {0x1a, 0});
  std::vector<std::vector<uint8_t>> messages(3);
  uint8_t* out[3];
  for (size_t t = 0; t < 3; ++t) {
    messages[t].resize(frame_message_body_size(head.size(), plan.frames[t], plan.bytes[t]));
    out[t] = messages[t].data();
  }
  write_frame_messages(batch, plan, head.data(), head.size(), out);
  for (size_t t = 0; t < 3; ++t) {
    if (!plan.frames[t]) continue;
    FrameBatchLayout layout;
    if (!check_frame_batch(messages[t].data(), messages[t].size(), &layout).empty() || layout.frame_count != plan.frames[t]) __builtin_trap();
  }
  // All frames to one collector: the message written around the frames left in the batch is,
  // pieces joined, the copying split's message byte for byte.
  if (!frames_in_place(batch)) __builtin_trap();  // appended back to back, no options
  plan_split(batch, linktypes, 1, 1, plan);
  std::vector<uint8_t> copied(frame_message_body_size(head.size(), plan.frames[0], plan.bytes[0]));
  uint8_t* one[1] = {copied.data()};
  write_frame_messages(batch, plan, head.data(), head.size(), one);
  std::vector<uint8_t> around(copied.size() - batch.used);
  write_frame_message_around(batch, head.data(), head.size(), around.data());
  const size_t lead = frame_message_lead_size(head.size(), batch.used);
  std::vector<uint8_t> joined(around.begin(), around.begin() + static_cast<long>(lead));
  joined.insert(joined.end(), batch.data.begin(), batch.data.begin() + static_cast<long>(batch.used));
  joined.insert(joined.end(), around.begin() + static_cast<long>(lead), around.end());
  if (joined != copied) __builtin_trap();
  return 0;
}
