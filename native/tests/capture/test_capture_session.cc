// CaptureSession end to end in C++: a crafted file read with a filter into a pcapng, batches
// handed over through the bounded queue, the count limit, and a live capture on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <pcap/pcap.h>

#include "capture/capture_session.h"
#include "capture/devices.h"
#include "capture/link_types.h"
#include "check.h"
#include "pcap/file_reader.h"

using namespace podspan;

namespace {

// A pcap (µs, little endian) holding n Ethernet/IPv4 frames: even ones UDP, odd ones TCP.
std::string write_sample_pcap(int n) {
  char tmpl[] = "/tmp/podspan-session-XXXXXX";
  const int fd = mkstemp(tmpl);
  close(fd);
  std::ofstream f(tmpl, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  u32(0xa1b2c3d4); u16(2); u16(4); u32(0); u32(0); u32(65535); u32(1);
  for (int i = 0; i < n; ++i) {
    uint8_t frame[14 + 20 + 20 + 16] = {0};
    frame[12] = 0x08;
    frame[14] = 0x45;
    frame[14 + 9] = (i % 2 == 0) ? 17 : 6;
    const size_t len = sizeof frame - (i % 2 == 0 ? 12 : 0);
    frame[14 + 3] = static_cast<uint8_t>(len - 14);
    u32(1700000000 + i); u32(i * 1000); u32(static_cast<uint32_t>(len)); u32(static_cast<uint32_t>(len) + 4);
    f.write(reinterpret_cast<const char*>(frame), static_cast<std::streamsize>(len));
  }
  return tmpl;
}

// Reading `in` into batches of 64 packets for take_batch, through a queue of `queue` batches.
CaptureOptions batch_options(const std::string& in, size_t queue) {
  CaptureOptions o;
  o.read_path = in;
  o.deliver_batches = true;
  o.batch_max_packets = 64;
  o.queue_max_batches = queue;
  return o;
}

void run_to_end(CaptureSession& s) {
  std::promise<void> done;
  s.start(nullptr, [&] { done.set_value(); });
  done.get_future().wait();
  s.join();
}

uint64_t count_packets(const std::string& path) {
  auto r = FileReader::open(path);
  Batch b;
  uint64_t n = 0;
  for (;;) {
    const ReadStatus st = r->read(b, 512, 1 << 20);
    n += b.size();
    if (st != ReadStatus::kOk) break;
  }
  return n;
}

}  // namespace

TEST(session_reads_a_file_through_a_filter_into_pcapng) {
  const std::string in = write_sample_pcap(100);
  const std::string out = in + ".pcapng";
  CaptureOptions o;
  o.read_path = in;
  o.filter = "udp";
  o.write_file = true;
  o.writer.path = out;
  o.writer.format = FileFormat::kPcapng;
  CaptureSession s(o);
  run_to_end(s);
  CHECK_EQ(s.error(), std::string());
  CHECK_EQ(s.packets_read(), 100u);
  auto st = s.stats();
  CHECK_EQ(st.size(), 1u);
  CHECK_EQ(st[0].captured, 50u);
  CHECK_EQ(count_packets(out), 50u);
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST(session_hands_batches_over_and_stops_at_the_count) {
  const std::string in = write_sample_pcap(1000);
  CaptureOptions o;
  o.read_path = in;
  o.count = 777;
  o.deliver_batches = true;
  o.batch_max_packets = 64;
  o.queue_max_batches = 2;  // offline waits for room instead of dropping
  CaptureSession s(o);
  std::atomic<bool> finished{false};
  s.start(nullptr, [&] { finished = true; });
  Batch b;
  uint64_t got = 0, bytes = 0;
  for (;;) {
    const bool was_finished = finished;
    if (s.take_batch(b)) {
      got += b.size();
      for (const auto& r : b.records) bytes += r.caplen;
    } else if (was_finished) {
      break;  // finished before this empty look: nothing more will come
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  s.join();
  CHECK_EQ(got, 777u);
  CHECK_EQ(s.stats()[0].captured, 777u);
  CHECK_EQ(s.stats()[0].dropped_queue, 0u);
  CHECK(bytes > 0);
  std::remove(in.c_str());
}

// Storage given back to the pool fills the capture's next batches: a consumer that moves each
// batch's bytes away (the agent lends them to JavaScript) gets them written into storage that came
// back, not into new storage, in the order the pool returns it (last in, first out).
TEST(session_fills_batches_from_storage_given_back) {
  const std::string in = write_sample_pcap(1000);
  CaptureOptions o = batch_options(in, 2);
  o.batch_storage = std::make_shared<BatchStoragePool>(8);
  std::vector<const uint8_t*> primed;
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> storage(1 << 16);
    primed.push_back(storage.data());
    o.batch_storage->put(std::move(storage));
  }
  CaptureSession s(o);
  std::atomic<bool> finished{false};
  s.start(nullptr, [&] { finished = true; });
  Batch b;
  std::vector<std::vector<uint8_t>> lent;  // kept, so no address is used twice
  uint64_t got = 0;
  for (;;) {
    const bool was_finished = finished;
    if (s.take_batch(b)) {
      got += b.size();
      lent.push_back(std::move(b.data));  // b goes back to the capture without storage
    } else if (was_finished) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  s.join();
  CHECK_EQ(got, 1000u);
  CHECK(lent.size() > 4);
  // the first batch had storage of its own; the next three are the given-back ones, last first
  for (size_t i = 0; i < 3; ++i) CHECK(lent[1 + i].data() == primed[2 - i]);
  for (size_t i = 4; i < lent.size(); ++i)
    for (const uint8_t* p : primed) CHECK(lent[i].data() != p);
  std::remove(in.c_str());
}

// The pool keeps at most max_kept storages and fills only a batch without storage.
TEST(batch_storage_pool_keeps_a_bounded_number_and_fills_only_empty_batches) {
  BatchStoragePool pool(2);
  for (int i = 0; i < 3; ++i) pool.put(std::vector<uint8_t>(100 + static_cast<size_t>(i)));
  std::vector<uint8_t> has(5), none, none2, none3;
  pool.refill(has);
  CHECK_EQ(has.size(), 5u);  // it had storage: left alone
  pool.refill(none);
  pool.refill(none2);
  pool.refill(none3);
  CHECK_EQ(none.size(), 101u);  // the third put was not kept
  CHECK_EQ(none2.size(), 100u);
  CHECK_EQ(none3.capacity(), 0u);
}

// A file whose consumer never makes room (a collector gone): stop() must still end the reader,
// and every packet read is either in the queue or counted as dropped.
TEST(session_reading_a_file_ends_on_stop_while_no_one_takes_batches) {
  const std::string in = write_sample_pcap(1000);
  CaptureOptions o = batch_options(in, 1);
  CaptureSession s(o);
  std::promise<void> first_batch, finished;
  std::atomic<int> batches{0};
  s.start([&] { if (batches++ == 0) first_batch.set_value(); }, [&] { finished.set_value(); });
  first_batch.get_future().wait();  // the queue is full: the reader waits on the next batch
  s.stop();
  const bool ended = finished.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  CHECK(ended);
  std::remove(in.c_str());
  if (!ended) return;  // the destructor releases the reader (nobody takes batches any more)
  s.join();
  Batch b;
  uint64_t queued = 0;
  while (s.take_batch(b)) queued += b.size();
  const auto st = s.stats();
  CHECK_EQ(queued, 64u);
  CHECK_EQ(queued + st[0].dropped_queue, st[0].captured);
  CHECK(st[0].captured < 1000u);
}

TEST(session_reports_a_bad_filter_with_its_text) {
  const std::string in = write_sample_pcap(1);
  CaptureOptions o;
  o.read_path = in;
  o.filter = "tcp port eighty";
  bool threw = false;
  try {
    CaptureSession s(o);
  } catch (const CaptureError& e) {
    threw = true;
    CHECK_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::kFilter));
    CHECK(std::string(e.what()).find("'tcp port eighty'") != std::string::npos);
  }
  CHECK(threw);
  std::remove(in.c_str());
}

TEST(session_rejects_an_unknown_interface) {
  CaptureOptions o;
  o.interfaces = {"nosuchif0"};
  bool threw = false;
  try {
    CaptureSession s(o);
  } catch (const CaptureError& e) {
    threw = true;
    CHECK_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::kInterface));
    CHECK(std::string(e.what()).rfind("nosuchif0: ", 0) == 0);
  }
  CHECK(threw);
}

TEST(pcap_type_names_and_activation_statuses_in_words) {
  CHECK_EQ(link_type_value("en10mb"), 1);  // as tcpdump -y: any case
  CHECK_EQ(link_type_value("LINUX_SLL2"), 276);
  CHECK_EQ(link_type_value("ETHERNET2"), -1);
  CHECK_EQ(timestamp_type_value("host"), PCAP_TSTAMP_HOST);
  CHECK_EQ(timestamp_type_value("adapter_unsynced"), PCAP_TSTAMP_ADAPTER_UNSYNCED);
  CHECK_EQ(timestamp_type_value("atomic"), -1);
  CHECK_EQ(link_type_named(1).name + " (" + link_type_named(1).description + ")", std::string("EN10MB (Ethernet)"));
  CHECK_EQ(link_type_named(101).name, std::string("RAW"));  // a file's LINKTYPE_RAW is Linux's DLT_RAW 12
  CHECK_EQ(link_type_named(101).value, 101);
  CHECK_EQ(link_type_named(9999).name, std::string(""));
  CHECK_EQ(dlt_of_linktype(101), DLT_RAW);  // files say LINKTYPE_RAW, libpcap's handles DLT_RAW
  CHECK_EQ(linktype_of_dlt(DLT_RAW), 101);
  CHECK_EQ(linktype_of_dlt(DLT_ATM_RFC1483), 100);
  for (int same : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_IEEE802_11_RADIO}) {
    CHECK_EQ(linktype_of_dlt(same), same);
    CHECK_EQ(dlt_of_linktype(same), same);
  }
  CHECK_EQ(activation_status(PCAP_ERROR, "eth9: No such device exists"), std::string("eth9: No such device exists"));
  CHECK_EQ(activation_status(PCAP_ERROR_IFACE_NOT_UP, "That device is not up"), std::string("That device is not up"));
  CHECK_EQ(activation_status(PCAP_ERROR_PERM_DENIED, "socket: Operation not permitted"),
           std::string("You don't have permission to perform this capture on that device (socket: Operation not permitted)"));
  CHECK_EQ(activation_status(PCAP_WARNING_PROMISC_NOTSUP, ""), std::string(pcap_statustostr(PCAP_WARNING_PROMISC_NOTSUP)));
}

// Live capture on loopback needs root: without it the test says so and does not run.
static bool root_for(const char* what) {
  if (geteuid() == 0) return true;
  std::printf("  (%s needs root; not run)\n", what);
  return false;
}

TEST(session_refuses_a_link_type_the_device_does_not_offer) {
  if (!root_for("opening loopback")) return;
  CaptureOptions o;
  o.interfaces = {"lo"};
  o.link_type = link_type_value("LINUX_SLL");
  std::string message;
  try {
    CaptureSession s(o);
  } catch (const CaptureError& e) {
    message = e.what();
  }
  CHECK_EQ(message, std::string("lo: LINUX_SLL is not one of the DLTs supported by this device"));
  const auto types = device_link_types("lo");
  CHECK_EQ(types.size(), 1u);
  CHECK_EQ(types[0].name, std::string("EN10MB"));
  CHECK(!device_timestamp_types("lo").empty());
}

TEST(session_captures_live_on_loopback) {
  if (!root_for("live loopback capture")) return;
  const int port = 40000 + (getpid() % 20000);
  CaptureOptions o;
  o.interfaces = {"lo"};
  o.filter = "udp dst port " + std::to_string(port);
  o.count = 200;
  o.timeout_ms = 10;
  o.deliver_batches = true;
  CaptureSession s(o);
  std::atomic<bool> finished{false};
  s.start(nullptr, [&] { finished = true; });
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char payload[100] = {0};
  // Bounded: 300 datagrams at most, 2 s at most; the session stops itself at 200.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < 300 && !finished && std::chrono::steady_clock::now() < deadline; ++i) {
    sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  close(fd);
  for (int i = 0; i < 200 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.stop();
  s.join();
  Batch b;
  uint64_t got = 0;
  while (s.take_batch(b)) {
    got += b.size();
    for (const auto& r : b.records) CHECK_EQ(r.caplen, 14u + 20u + 8u + 100u);
  }
  CHECK_EQ(got, 200u);
  CHECK_EQ(s.stats()[0].captured, 200u);
}
