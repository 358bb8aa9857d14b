// libFuzzer target: any bytes as a frame of each link type we decode, and the frame inside any
// tunnel found; ASan catches any read past the captured length.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "decode/decode.h"
#include "common/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  static const uint16_t kLinktypes[] = {kLinktypeEthernet, kLinktypeLinuxSll, kLinktypeLinuxSll2, kLinktypeRaw,
                                        kLinktypeIpv4, kLinktypeIpv6, kLinktypeNull};
  if (size == 0) return 0;
  const uint16_t linktype = kLinktypes[data[0] % (sizeof kLinktypes / sizeof kLinktypes[0])];
  std::vector<uint8_t> frame(data + 1, data + size);  // exact-size copy
  Decoded d;
  const DecodeResult r = decode_frame(frame.data(), static_cast<uint32_t>(frame.size()), linktype, d);
  if (r == DecodeResult::kOk && d.payload_offset + d.captured_payload > frame.size()) __builtin_trap();
  if (d.captured_payload > d.payload_len) __builtin_trap();
  // Tunnels: the inside must start within the frame, and decoding it must stay within too.
  uint16_t inner_link = 0;
  uint32_t at = 0;
  if (d.tunnel != Tunnel::kNone && tunnel_payload(d, frame.data(), static_cast<uint32_t>(frame.size()), inner_link, at)) {
    if (at > frame.size()) __builtin_trap();
    Decoded in;
    decode_frame(frame.data() + at, static_cast<uint32_t>(frame.size() - at), inner_link, in);
    if (in.captured_payload > in.payload_len) __builtin_trap();
  }
  return 0;
}
