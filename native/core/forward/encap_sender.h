// Mirrors frames to an encapsulation consumer: VXLAN (RFC 7348) or GENEVE (RFC 8926) in UDP
// (port 4789 or 6081 by default), or GRE (RFC 2890, transparent Ethernet bridging) straight over
// IPv4; each captured frame behind the encapsulation's header (encap_header.h), through ordinary
// sockets so the kernel builds the outer IP header. Over UDP the outer source port follows a
// symmetric hash of the inner flow (a pool of sockets, one port each), so under ECMP a flow
// keeps one path. Frames from links that are not Ethernet get a synthetic Ethernet header.
// Packets are batched per socket and sent with sendmmsg after each capture batch.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "forward/encap_header.h"
#include "common/packet.h"

struct mmsghdr;

namespace podspan {

enum class OversizePolicy : uint8_t {
  kFragment,  // send anyway; the kernel fragments the outer IP packet (counted)
  kTruncate,  // cut the inner frame so the outer packet fits the MTU (counted)
};

struct EncapOptions {
  std::string host;           // IPv4 or IPv6 literal (names are resolved by the caller)
  uint16_t port = 4789;
  EncapHeader header;         // VXLAN, GENEVE, GRE or ERSPAN, with its ids
  uint32_t truncate = 0;      // cut every inner frame to this many bytes (0: whole frames)
  uint32_t mtu = 1500;        // outer packet size the path carries
  OversizePolicy oversize = OversizePolicy::kFragment;
  uint32_t source_ports = 16; // sockets in the pool (distinct outer source ports)
  uint32_t batch = 64;        // datagrams per sendmmsg
  bool block_when_full = false;  // reading a file: wait for the socket; live capture: drop, count
  bool egress_capture = false;   // the capture takes only frames the interface sends (ERSPAN III's D bit)
};

struct EncapStats {
  uint64_t frames = 0;             // datagrams the kernel accepted
  uint64_t bytes = 0;              // inner frame bytes in them (synthetic headers included)
  uint64_t truncated = 0;          // frames cut by `truncate`
  uint64_t oversize_fragmented = 0;
  uint64_t oversize_truncated = 0;
  uint64_t synthetic_ethernet = 0; // frames given an Ethernet header
  uint64_t unsupported = 0;        // frames that cannot go behind Ethernet (link type, or too short)
  uint64_t send_errors = 0;        // datagrams the kernel refused (dropped, counted)
};

class EncapSender : public PacketConsumer {
 public:
  // Opens the socket pool; throws CaptureError(kForward) naming the target.
  explicit EncapSender(EncapOptions options);
  ~EncapSender() override;

  void add_interface(const InterfaceInfo& info) override { linktypes_.push_back(info.linktype); }
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  void dispatched() override { send_all(); }
  void finish() override { send_all(); }

  EncapStats stats() const;  // any thread
  const std::string& target() const { return target_; }  // scheme://host:port
  // The outer source ports in use (for tests and logs).
  std::vector<uint16_t> source_ports() const;

 private:
  struct Pool {
    int fd = -1;
    std::vector<uint8_t> buf;      // datagrams back to back
    std::vector<uint32_t> starts;  // offset of each datagram in buf
  };
  void send(Pool& p);
  void send_all();
  size_t build(const PacketRecord& rec, const uint8_t* bytes, uint8_t* out);

  EncapOptions opt_;
  std::string target_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  size_t header_size_ = 0;     // encapsulation header bytes per datagram
  size_t outer_overhead_ = 0;  // IP + UDP + encapsulation header bytes
  size_t max_datagram_ = 0;
  std::vector<Pool> pools_;
  std::vector<uint16_t> linktypes_;
  std::vector<mmsghdr> msgs_;
  std::vector<struct iovec> iovs_;
  struct Control {
    alignas(cmsghdr) char data[CMSG_SPACE(sizeof(uint16_t))];
  };
  std::vector<Control> control_;   // the UDP_SEGMENT option of each message
  std::vector<uint32_t> datagrams_;  // datagrams in each message
  bool gso_ = true;
  uint32_t gre_sequence_ = 0;  // the next GRE sequence number (RFC 2890: from 0, per target)
  EncapStats stats_;
  mutable std::mutex snap_mu_;
  EncapStats snapshot_;
};

}  // namespace podspan
