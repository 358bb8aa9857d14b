// EncapReceiver on loopback: (sender, VNI) pairs beyond max_sources are refused and counted, not
// written; a write error (disk full) stops the thread with the error kept for the caller, and
// stop() still returns at once.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "check.h"
#include "common/errors.h"
#include "pcap/file_reader.h"
#include "forward/encap_receiver.h"

using namespace podspan;

namespace {

// Sends one VXLAN datagram (VNI `vni`, a 60-byte inner frame) to 127.0.0.1:port.
void send_vxlan(uint16_t port, uint32_t vni) {
  std::vector<uint8_t> d(8 + 60, 0x42);
  d[0] = 0x08;
  d[1] = d[2] = d[3] = 0;
  d[4] = static_cast<uint8_t>(vni >> 16);
  d[5] = static_cast<uint8_t>(vni >> 8);
  d[6] = static_cast<uint8_t>(vni);
  d[7] = 0;
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
}

// Waits (at most 10 s) until the receiver has taken `n` datagrams or stopped on an error.
void wait_for(const EncapReceiver& r, uint64_t n) {
  for (int i = 0; i < 1000 && r.stats().datagrams < n && r.error().empty(); ++i) {
    timespec ts{0, 10000000};
    nanosleep(&ts, nullptr);
  }
}

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

TEST(vxlan_receiver_refuses_pairs_beyond_max_sources) {
  char tmpl[] = "/tmp/podspan-vxrx-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  EncapReceiverOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.max_sources = 3;
  o.writer.path = dir + "/vx.pcapng";
  o.writer.format = FileFormat::kPcapng;
  EncapReceiver r(o);
  r.start();
  for (uint32_t vni = 1; vni <= 10; ++vni) send_vxlan(r.port(), vni);
  for (uint32_t vni = 1; vni <= 10; ++vni) send_vxlan(r.port(), vni);  // known pairs still pass
  wait_for(r, 20);
  r.stop();
  const EncapReceiverStats s = r.stats();
  CHECK_EQ(s.datagrams, 20u);
  CHECK_EQ(s.sources, 3u);
  CHECK_EQ(s.frames, 6u);
  CHECK_EQ(s.refused, 14u);
  auto rd = FileReader::open(o.writer.path);
  Batch b;
  CHECK(rd->read(b, 100, 1 << 20) == ReadStatus::kEnd);
  CHECK_EQ(b.size(), 6u);
  CHECK_EQ(rd->interfaces().size(), 3u);
  unlink(o.writer.path.c_str());
  rmdir(dir.c_str());
}

TEST(vxlan_receiver_keeps_a_write_error_and_stops_promptly) {
  EncapReceiverOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.writer.path = "/dev/full";  // every write: ENOSPC
  o.writer.format = FileFormat::kPcapng;
  EncapReceiver r(o);
  r.start();
  send_vxlan(r.port(), 5);
  wait_for(r, 1);
  CHECK(r.error().find("/dev/full: write failed: No space left on device") == 0);
  const uint64_t t0 = monotonic_ms();
  bool threw = false;
  try {
    r.stop();
  } catch (const CaptureError&) {
    threw = true;  // the close cannot write either; it says so
  }
  CHECK(threw);
  CHECK(monotonic_ms() - t0 < 1000);
}
