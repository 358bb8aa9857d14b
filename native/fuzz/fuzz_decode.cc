// libFuzzer target: any bytes as a frame of each link type we decode; ASan catches any read
// past the captured length.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "decode.h"
#include "packet.h"

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
  return 0;
}
