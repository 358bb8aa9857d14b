// The collector's listeners for mirror encapsulations: VXLAN (UDP, port 4789 by default), GENEVE
// (UDP, 6081) and GRE with ERSPAN types I-III (a raw IP socket of protocol 47, IPv4 or IPv6:
// CAP_NET_RAW), each read on a thread of its own with recvmmsg. The encapsulation header is
// opened by the decoder's tunnel parser (decode/decode.h tunnel_inner, the one reassembly uses);
// each inner frame (Ethernet, or IP for GRE/GENEVE carrying IP) is written to a capture file with
// one interface per (sender address, id: VNI, GRE key or ERSPAN session, inner link type).
// Packets that do not open are counted, not written; so are those of a new (sender, id) once
// max_sources are known (each costs an interface and its bookkeeping for the listener's life).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include "forward/encap_header.h"
#include "pcap/file_writer.h"

namespace podspan {

struct EncapReceiverOptions {
  Encapsulation kind = Encapsulation::kVxlan;  // kVxlan, kGeneve, or kGre (GRE and ERSPAN)
  std::string host = "0.0.0.0";  // IPv4 or IPv6 literal
  uint16_t port = 4789;          // UDP kinds
  uint32_t max_sources = 4096;   // (sender, id) pairs given an interface; later ones refused
  WriterOptions writer;
};

struct EncapReceiverStats {
  uint64_t datagrams = 0;
  uint64_t frames = 0;     // written
  uint64_t bytes = 0;      // inner frame bytes written
  uint64_t malformed = 0;  // too short, or a header that does not open (a VXLAN header without its I flag)
  uint64_t sources = 0;    // (sender, id) pairs written
  uint64_t refused = 0;    // datagrams of pairs beyond max_sources, not written
};

class EncapReceiver {
 public:
  // Binds the socket and opens the file; throws CaptureError (kForward: the address; kOutput).
  explicit EncapReceiver(EncapReceiverOptions options);
  ~EncapReceiver();  // stops; errors ignored

  void start();
  // Stops reading, writes what was received and closes the file (throws CaptureError(kOutput)).
  void stop();
  EncapReceiverStats stats() const;
  uint16_t port() const { return port_; }  // UDP kinds: the bound port (0 asked: the kernel's choice)
  std::vector<std::string> files() const;
  std::string error() const;  // a write error that stopped the thread

 private:
  void run();

  EncapReceiverOptions opt_;
  bool raw_ = false, v6_ = false;
  int fd_ = -1;
  uint16_t port_ = 0;
  CaptureWriter writer_;
  std::map<std::tuple<std::string, uint32_t, uint16_t>, uint32_t> ifaces_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  mutable std::mutex mu_;  // guards stats_ and error_ (the writer belongs to the thread)
  EncapReceiverStats stats_;
  std::string error_;
};

}  // namespace podspan
