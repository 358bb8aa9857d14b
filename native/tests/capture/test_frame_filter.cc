// FrameFilter: a BPF expression run in user space per link type, as a live tap applies a
// subscriber's filter to frames that came from agents.
#include <vector>

#include "check.h"
#include "common/errors.h"
#include "capture/frame_filter.h"
#include "tcp_frames.h"

using namespace podspan;
using namespace podspan_test;

namespace {
constexpr uint16_t kRaw = 101;       // LINKTYPE_RAW: IPv4 from the first byte
constexpr uint16_t kEthernet = 1;
}  // namespace

TEST(frame_filter_matches_by_port_on_raw_and_ethernet_frames) {
  FrameFilter f("tcp port 80");
  const Bytes web = raw_tcp_frame(1, 40000, 2, 80, 1, 0x18, "GET /");
  const Bytes other = raw_tcp_frame(1, 40000, 2, 443, 1, 0x18, "x");
  CHECK(f.matches(kRaw, web.data(), static_cast<uint32_t>(web.size()), static_cast<uint32_t>(web.size())));
  CHECK(!f.matches(kRaw, other.data(), static_cast<uint32_t>(other.size()), static_cast<uint32_t>(other.size())));
  const Bytes eth = ethernet_ipv4(web);
  CHECK(f.matches(kEthernet, eth.data(), static_cast<uint32_t>(eth.size()), static_cast<uint32_t>(eth.size())));
}

TEST(frame_filter_empty_expression_matches_everything) {
  FrameFilter f("");
  const Bytes b = {1, 2, 3};
  CHECK(f.matches(kEthernet, b.data(), 3, 3));
}

TEST(frame_filter_refuses_a_bad_expression_naming_it) {
  FrameFilter f("tcp port eighty");
  const Bytes b = raw_tcp_frame(1, 1, 2, 2, 1, 0x02, "");
  bool threw = false;
  try {
    f.matches(kRaw, b.data(), static_cast<uint32_t>(b.size()), static_cast<uint32_t>(b.size()));
  } catch (const CaptureError& e) {
    threw = e.kind() == ErrorKind::kFilter && std::string(e.what()).find("tcp port eighty") != std::string::npos;
  }
  CHECK(threw);
}

TEST(filter_compile_error_says_why_in_the_words_frame_filter_throws) {
  CHECK_EQ(filter_compile_error("tcp port 80", kEthernet), std::string());
  const std::string bad = filter_compile_error("tcp port", kEthernet);
  CHECK(bad.find("filter 'tcp port' (link type 1): ") == 0);
  CHECK(bad.find("syntax error") != std::string::npos);
  // Semantics per link type: Ethernet addresses on a raw IP link.
  CHECK_EQ(filter_compile_error("ether host 1:2:3:4:5:6", kEthernet), std::string());
  CHECK(filter_compile_error("ether host 1:2:3:4:5:6", kRaw).find("link type 101") != std::string::npos);
}
