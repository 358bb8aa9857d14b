// The collector's VXLAN side: a UDP socket (port 4789 by default) read on a thread of its own
// with recvmmsg; each datagram's inner Ethernet frame is written to a capture file, with one
// interface per (sender address, VNI). Datagrams that are not VXLAN are counted, not written;
// so are datagrams of a new (sender, VNI) pair once max_sources pairs are known (each pair costs
// an interface and its bookkeeping for the life of the listener).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "pcap/file_writer.h"

namespace podspan {

struct VxlanReceiverOptions {
  std::string host = "0.0.0.0";  // IPv4 or IPv6 literal
  uint16_t port = 4789;
  uint32_t max_sources = 4096;  // (sender, VNI) pairs given an interface; later ones refused
  WriterOptions writer;
};

struct VxlanReceiverStats {
  uint64_t datagrams = 0;
  uint64_t frames = 0;     // written
  uint64_t bytes = 0;      // inner frame bytes written
  uint64_t malformed = 0;  // too short or without the VNI flag
  uint64_t sources = 0;    // (sender, VNI) pairs written
  uint64_t refused = 0;    // datagrams of pairs beyond max_sources, not written
};

class VxlanReceiver {
 public:
  // Binds the socket and opens the file; throws CaptureError (kForward: the address; kOutput).
  explicit VxlanReceiver(VxlanReceiverOptions options);
  ~VxlanReceiver();  // stops; errors ignored

  void start();
  // Stops reading, writes what was received and closes the file (throws CaptureError(kOutput)).
  void stop();
  VxlanReceiverStats stats() const;
  uint16_t port() const { return port_; }
  std::vector<std::string> files() const;
  std::string error() const;  // a write error that stopped the thread

 private:
  void run();

  VxlanReceiverOptions opt_;
  int fd_ = -1;
  uint16_t port_ = 0;
  CaptureWriter writer_;
  std::map<std::pair<std::string, uint32_t>, uint32_t> ifaces_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  mutable std::mutex mu_;  // guards stats_ and error_ (the writer belongs to the thread)
  VxlanReceiverStats stats_;
  std::string error_;
};

}  // namespace podspan
