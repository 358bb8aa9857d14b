#include "capture/capture_session.h"

#include "capture/frame_filter.h"

#include "capture/bpf_chain.h"
#include "common/thread_name.h"

#include <linux/filter.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <pcap/pcap.h>
#include <time.h>

#include <cstring>
#include <map>

#include "capture/devices.h"
#include "capture/link_types.h"
#include "pcap/file_reader.h"

namespace podspan {
namespace {

constexpr uint64_t kStatsRefreshMs = 250;

uint64_t monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

constexpr uint64_t kLiveFlushMs = 1000;
// After a stop from outside, how long past the block timeout the ring is still read: the kernel's
// retire timer runs late on a loaded machine too.
constexpr uint64_t kDrainMarginMs = 50;
constexpr uint64_t kDrainCapMs = 2000;
constexpr size_t kOfflineReadPackets = 1024;
constexpr size_t kOfflineReadBytes = 1 << 20;
// How many packets ahead of the one being handled a packet is fetched into the cache, and how
// much of it: its headers and the start of the payload the protocol parsers read.
constexpr size_t kPrefetchPackets = 12;
inline void prefetch_packet(const uint8_t* frame, uint32_t caplen) {
  const uint32_t span = caplen < 512 ? caplen : 512;
  for (uint32_t at = 0; at < span; at += 64) __builtin_prefetch(frame + at);
}

// Sampled-out stubs are counted only when the snap length is above this, so no real packet
// cut by the snap length can look like one.
constexpr int kMaxSampledOutStub = 64;

std::string quoted(const std::string& filter) { return "'" + filter + "'"; }

}  // namespace

struct CaptureSession::Source {
  CaptureSession* session = nullptr;
  // live
  pcap_t* pcap = nullptr;
  std::string name;
  uint32_t iface = 0;
  InterfaceStats stats;
  // offline
  std::unique_ptr<FileReader> reader;
  std::vector<InterfaceStats> file_stats;
  std::unique_ptr<FrameFilter> file_filter;  // -r with a filter: one program per link type
  // staging for a shared writer, and the batch being filled for JS
  Batch staging;
  Batch js;
  uint64_t js_started_ms = 0;
  int fd = -1;  // live: the ring's descriptor, polled by the capture thread
  uint32_t sampled_out_caplen = 0;  // live: a stub of this length is a sampled-out packet (0: off)
  bpf_program filter{};             // live: the compiled filter
  uint64_t filter_attached_ns = 0;  // live, chained filter: packets before this were not filtered
  uint64_t last_refresh_ms = 0;
  uint64_t last_flush_ms = 0;

  ~Source() {
    pcap_freecode(&filter);
    if (pcap) pcap_close(pcap);  // also when the session's constructor throws
  }
};

CaptureSession::CaptureSession(CaptureOptions options) : opt_(std::move(options)) {
  reader_based_ = !opt_.read_path.empty();
  if (reader_based_ == !opt_.interfaces.empty()) {
    throw CaptureError(ErrorKind::kUsage, "give either interfaces to capture on or a file to read");
  }
  if (opt_.write_file) {
    opt_.writer.stats_for_interface = [this](uint32_t i) {
      std::lock_guard<std::mutex> lk(state_mu_);
      return i < stats_snapshot_.size() ? stats_snapshot_[i] : InterfaceStats{};
    };
  }
  if (reader_based_) {
    open_offline();
  } else {
    for (const auto& dev : opt_.interfaces) open_live(dev);
  }
  if (opt_.write_file) writer_ = std::make_unique<CaptureWriter>(opt_.writer);
  consumers_ = opt_.consumers;
  if (reader_based_) {
    const FileReader& r = *sources_[0]->reader;
    for (const auto& c : consumers_) c->input_is_stable(r.contents(), r.contents_size());
  }
  sync_sink_interfaces(interfaces_);
  shared_writer_ = sources_.size() > 1;
}

CaptureSession::~CaptureSession() {
  abandoned_ = true;  // nobody will take batches any more: release a reader waiting for room
  stop();
  join();
}

void CaptureSession::open_live(const std::string& device) {
  char err[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_create(device.c_str(), err);
  if (p == nullptr) throw CaptureError(ErrorKind::kInterface, device + ": " + err);
  auto src = std::make_unique<Source>();
  src->session = this;
  src->pcap = p;
  src->name = device;
  src->iface = static_cast<uint32_t>(sources_.size());
  sources_.push_back(std::move(src));  // owned now: closed by the destructor on any throw

  pcap_set_snaplen(p, opt_.snaplen);
  pcap_set_promisc(p, opt_.promisc ? 1 : 0);
  pcap_set_timeout(p, opt_.timeout_ms);
  pcap_set_immediate_mode(p, opt_.immediate ? 1 : 0);
  if (opt_.buffer_kib > 0) pcap_set_buffer_size(p, opt_.buffer_kib * 1024);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);

  if (opt_.timestamp_type >= 0) {
    // As tcpdump -j: a type the device does not offer is a warning, a device that cannot be set an error.
    const int ts = pcap_set_tstamp_type(p, opt_.timestamp_type);
    const char* name = pcap_tstamp_type_val_to_name(opt_.timestamp_type);
    const std::string what = std::string("time stamp type ") + (name ? name : std::to_string(opt_.timestamp_type));
    if (ts < 0) throw CaptureError(ErrorKind::kInterface, device + ": cannot set " + what + ": " + pcap_statustostr(ts));
    if (ts > 0) warnings_.push_back(device + ": " + what + ": " + pcap_statustostr(ts));
  }

  const int rc = pcap_activate(p);
  if (rc < 0) throw CaptureError(ErrorKind::kInterface, device + ": " + activation_status(rc, pcap_geterr(p)));
  if (rc > 0) warnings_.push_back(device + ": " + activation_status(rc, pcap_geterr(p)));
  if (opt_.link_type >= 0) {
    if (pcap_set_datalink(p, opt_.link_type) != 0) throw CaptureError(ErrorKind::kInterface, device + ": " + pcap_geterr(p));
  } else if (opt_.any_cooked_v2 && device == "any" && pcap_datalink(p) != DLT_LINUX_SLL2 &&
             pcap_set_datalink(p, DLT_LINUX_SLL2) != 0) {
    warnings_.push_back(device + ": cannot use LINUX_SLL2: " + pcap_geterr(p));
  }
  if (!opt_.direction.empty()) {
    const pcap_direction_t dir = opt_.direction == "in" ? PCAP_D_IN : opt_.direction == "out" ? PCAP_D_OUT : PCAP_D_INOUT;
    if (pcap_setdirection(p, dir) != 0) {
      throw CaptureError(ErrorKind::kInterface, device + ": cannot capture direction " + opt_.direction + ": " + pcap_geterr(p));
    }
  }
  // Non-blocking: the capture thread waits in its own poll with a timeout, so an idle interface
  // still gets its counters refreshed and its file flushed (an idle TPACKET_V3 ring never wakes
  // libpcap's own poll: no block retires without a packet).
  if (pcap_setnonblock(p, 1, err) != 0) throw CaptureError(ErrorKind::kInterface, device + ": " + err);
  sources_.back()->fd = pcap_get_selectable_fd(p);
  if (!opt_.filter.empty()) set_live_filter(*sources_.back(), device);
  InterfaceInfo info;
  info.name = device;
  info.linktype = static_cast<uint16_t>(linktype_of_dlt(pcap_datalink(p)));  // as files carry it: LINKTYPE_RAW, not DLT_RAW
  info.snaplen = static_cast<uint32_t>(pcap_snapshot(p));
  try {
    for (const auto& d : list_devices()) {
      if (d.name == device) info.description = d.description;
    }
  } catch (const CaptureError&) {
    // a description is a nicety; capture works without it
  }
  if (!opt_.interface_description.empty()) info.description = opt_.interface_description;
  interfaces_.push_back(info);
  stats_snapshot_.emplace_back();
}

// Compiles the filter for a live device. With a sampled filter too (the rules without their
// flow sampling), the two are chained so the kernel hands over a stub of every packet sampling
// leaves out (bpf_chain.h), which the capture thread counts. The chain is attached to the
// socket directly: libpcap re-runs its filter in user space over the first ring block, and
// there the 1-byte stubs would fail it and vanish uncounted.
void CaptureSession::set_live_filter(Source& src, const std::string& device) {
  pcap_t* p = src.pcap;
  char err[PCAP_ERRBUF_SIZE] = {0};
  bpf_u_int32 net = 0, mask = 0;
  if (pcap_lookupnet(device.c_str(), &net, &mask, err) != 0) mask = PCAP_NETMASK_UNKNOWN;
  bpf_program& prog = src.filter;
  auto compile = [&](const std::string& expr, bpf_program& out) {
    if (pcap_compile(p, &out, expr.c_str(), 1, mask) != 0) {
      throw CaptureError(ErrorKind::kFilter, "filter " + quoted(expr) + ": " + pcap_geterr(p));
    }
  };
  compile(opt_.filter, prog);
  const int link = pcap_datalink(p);
  // Cooked links ("any") need libpcap's offset fix-ups in the kernel program, so they go
  // through pcap_setfilter and sampled-out packets are not counted there. The stub must not
  // be mistaken for a packet cut by the snap length.
  if (!opt_.sampled_filter.empty() && opt_.snaplen > kMaxSampledOutStub && link != DLT_LINUX_SLL &&
      link != DLT_LINUX_SLL2) {
    bpf_program rules{};
    compile(opt_.sampled_filter, rules);
    std::vector<bpf_insn> chained;
    std::string why;
    const bool ok = chain_sampled_out(prog, rules, chained, why);
    pcap_freecode(&rules);
    if (ok) {
      static_assert(sizeof(sock_filter) == sizeof(bpf_insn), "classic BPF instruction layouts differ");
      const sock_fprog fprog{static_cast<unsigned short>(chained.size()), reinterpret_cast<sock_filter*>(chained.data())};
      timespec now{};
      clock_gettime(CLOCK_REALTIME, &now);
      if (setsockopt(pcap_fileno(p), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) == 0) {
        src.sampled_out_caplen = kSampledOutMark;
        // Packets already in the ring arrived unfiltered: they are checked in user space.
        src.filter_attached_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
        return;
      }
      why = std::string("SO_ATTACH_FILTER: ") + std::strerror(errno);
    }
    warnings_.push_back(device + ": sampled-out packets are not counted: " + why);
  }
  if (pcap_setfilter(p, &prog) != 0) {
    throw CaptureError(ErrorKind::kFilter, device + ": cannot set filter " + quoted(opt_.filter) + ": " + pcap_geterr(p));
  }
}

void CaptureSession::open_offline() {
  auto src = std::make_unique<Source>();
  src->session = this;
  src->name = opt_.read_path;
  src->reader = FileReader::open(opt_.read_path);
  if (!opt_.more_read_paths.empty()) {
    // Files opened now: one that cannot be read is refused before anything is written. A FIFO
    // (a compressed file's decompressor writes it) is opened when its turn comes: its writer
    // runs from the open on, and a list of hundreds must not run hundreds at once.
    std::vector<FileReader::ChainPart> parts(1 + opt_.more_read_paths.size());
    parts[0].reader = std::move(src->reader);
    for (size_t i = 0; i < opt_.more_read_paths.size(); ++i) {
      const std::string& path = opt_.more_read_paths[i];
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
        parts[i + 1].open_later = [path] { return FileReader::open(path); };
      } else {
        parts[i + 1].reader = FileReader::open(path);
      }
    }
    src->reader = FileReader::chain(std::move(parts));
  }
  if (!opt_.filter.empty()) {
    // Validate the expression now so a typo fails before anything is written.
    const auto& ifs = src->reader->interfaces();
    src->file_filter = std::make_unique<FrameFilter>(opt_.filter);
    src->file_filter->compile(ifs.empty() ? uint16_t{kLinktypeEthernet} : ifs[0].linktype);  // throws CaptureError(kFilter)
  }
  if (opt_.write_file && !src->reader->sections().empty()) {
    const SectionInfo& in = src->reader->sections()[0];
    opt_.writer.section.comments = in.comments;
    opt_.writer.section.hardware = in.hardware;
    opt_.writer.section.os = in.os;
  }
  sources_.push_back(std::move(src));
}

void CaptureSession::start(std::function<void()> on_batch, std::function<void()> on_finished) {
  started_ = true;
  on_batch_ = std::move(on_batch);
  on_finished_ = std::move(on_finished);
  running_ = static_cast<int>(sources_.size());
  const uint64_t now = monotonic_ms();
  for (auto& s : sources_) {
    s->last_refresh_ms = now;
    s->last_flush_ms = now;
    Source* raw = s.get();
    threads_.emplace_back([this, raw] { reader_based_ ? offline_loop(*raw) : live_loop(*raw); });
    name_thread(threads_.back(), "podspan-capture");
  }
}

void CaptureSession::stop() {
  interrupted_ = true;  // asked from outside: a reader waiting for room gives up its batch
  end_capture();
}

void CaptureSession::end_capture() {
  stop_ = true;
  for (auto& s : sources_) {
    if (s->pcap) pcap_breakloop(s->pcap);
  }
  queue_cv_.notify_all();
}

void CaptureSession::join() {
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

bool CaptureSession::take_count_slot() {
  const uint64_t n = taken_.fetch_add(1, std::memory_order_relaxed);
  if (n + 1 >= opt_.count) end_capture();
  return n < opt_.count;
}

void CaptureSession::on_packet(unsigned char* user, const ::pcap_pkthdr* h,
                               const unsigned char* bytes) {
  auto* s = reinterpret_cast<Source*>(user);
  const uint64_t ts = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull +
                      static_cast<uint64_t>(h->ts.tv_usec);  // nanosecond precision was set
  if (s->sampled_out_caplen != 0) {
    if (h->caplen == s->sampled_out_caplen && h->len > h->caplen) {
      ++s->stats.sampled_out;
      return;
    }
    if (ts < s->filter_attached_ns && bpf_filter(s->filter.bf_insns, bytes, h->len, h->caplen) == 0) return;
  }
  s->session->deliver(*s, bytes, h->caplen, h->len, ts, s->iface, nullptr, 0);
}

void CaptureSession::deliver(Source& s, const uint8_t* bytes, uint32_t caplen, uint32_t origlen,
                             uint64_t ts_ns, uint32_t iface, const uint8_t* opts, uint32_t optlen) {
  if (opt_.count != 0 && !take_count_slot()) return;
  InterfaceStats& st = s.reader ? s.file_stats[iface] : s.stats;
  ++st.captured;
  st.captured_bytes += caplen;
  if (writer_ || !consumers_.empty()) {
    if (shared_writer_) {
      s.staging.append(bytes, caplen, origlen, ts_ns, iface, opts, optlen);
    } else {
      PacketRecord rec;
      rec.ts_ns = ts_ns;
      rec.caplen = caplen;
      rec.origlen = origlen;
      rec.iface = iface;
      rec.optlen = optlen;
      to_sinks(rec, bytes);
    }
  }
  if (opt_.deliver_batches) {
    if (s.js.empty()) s.js_started_ms = monotonic_ms();
    s.js.append(bytes, caplen, origlen, ts_ns, iface, opts, optlen);
    if (s.js.size() >= opt_.batch_max_packets || s.js.used >= opt_.batch_max_bytes) {
      push_js_batch(s, reader_based_);
    }
  }
}

// Hands one packet to the file writer and the consumer; a sink error stops the capture.
void CaptureSession::to_sinks(const PacketRecord& rec, const uint8_t* bytes) {
  try {
    if (writer_) {
      writer_->write(rec, bytes);
      if (opt_.flush_per_packet) writer_->flush();
    }
    for (const auto& c : consumers_) c->consume(rec, bytes);
  } catch (const CaptureError& e) {
    set_error(e.kind(), e.what());
    end_capture();
  }
}

void CaptureSession::sync_sink_interfaces(const std::vector<InterfaceInfo>& ifs) {
  while (writer_ && writer_->interface_count() < ifs.size()) writer_->add_interface(ifs[writer_->interface_count()]);
  for (; consumer_interfaces_ < ifs.size(); ++consumer_interfaces_)
    for (const auto& c : consumers_) c->add_interface(ifs[consumer_interfaces_]);
}

void CaptureSession::push_js_batch(Source& s, bool wait_for_room) {
  bool pushed = false;
  {
    std::unique_lock<std::mutex> lk(queue_mu_);
    if (wait_for_room) {
      // stop() releases it too: a file whose consumer never makes room (a collector gone) must
      // still end when asked. The count reached or an error ends the read but still waits.
      queue_cv_.wait(lk, [&] { return ready_.size() < opt_.queue_max_batches || abandoned_.load() || interrupted_.load(); });
    }
    if (ready_.size() < opt_.queue_max_batches) {
      ready_.push_back(std::move(s.js));
      if (!spare_.empty()) {
        s.js = std::move(spare_.back());
        spare_.pop_back();
      } else {
        s.js = Batch();
      }
      if (opt_.batch_storage) opt_.batch_storage->refill(s.js.data);
      pushed = true;
    } else if (!s.reader) {
      s.stats.dropped_queue += s.js.size();
    } else if (interrupted_.load()) {
      // A file's batch is lost only when stopped while its consumer had no room: counted too.
      for (const PacketRecord& rec : s.js.records)
        if (rec.iface < s.file_stats.size()) ++s.file_stats[rec.iface].dropped_queue;
    }
  }
  s.js.clear();
  if (pushed && on_batch_) on_batch_();
}

bool CaptureSession::take_batch(Batch& out) {
  {
    std::lock_guard<std::mutex> lk(queue_mu_);
    if (ready_.empty()) return false;
    Batch next = std::move(ready_.front());
    ready_.pop_front();
    out.clear();
    if (spare_.size() < opt_.queue_max_batches) spare_.push_back(std::move(out));
    out = std::move(next);
  }
  queue_cv_.notify_all();
  return true;
}

void CaptureSession::live_loop(Source& s) {
  const int wait_ms = opt_.timeout_ms > 0 ? opt_.timeout_ms : 100;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool idle = false;
    if (s.fd >= 0) {
      pollfd pfd{s.fd, POLLIN, 0};
      idle = ::poll(&pfd, 1, wait_ms) == 0;  // woken by a retired block, or by the timeout to refresh and flush
    }
    const int n = pcap_dispatch(s.pcap, -1, &CaptureSession::on_packet,
                                reinterpret_cast<unsigned char*>(&s));
    if (n == PCAP_ERROR) {
      set_error(ErrorKind::kInterface, s.name + ": " + pcap_geterr(s.pcap));
      end_capture();
      break;
    }
    after_dispatch(s, false, idle);
  }
  if (interrupted_.load() && s.fd >= 0) drain_ring(s, wait_ms);
  after_dispatch(s, true);
  thread_done();
}

// Stopped from outside (Ctrl-C, --duration, a session's end), what reached the ring before then is
// still read: every block the kernel has retired, and the one it was filling, which its timer
// retires within the block timeout. A reader behind a burst (a loaded machine) catches up here
// instead of leaving retired blocks unread; past kDrainCapMs an interface that never goes quiet
// stops being read.
void CaptureSession::drain_ring(Source& s, int wait_ms) {
  const uint64_t start = monotonic_ms();
  const uint64_t until = start + static_cast<uint64_t>(wait_ms) + kDrainMarginMs;
  for (;;) {
    const int n = pcap_dispatch(s.pcap, -1, &CaptureSession::on_packet, reinterpret_cast<unsigned char*>(&s));
    if (n == PCAP_ERROR) {
      set_error(ErrorKind::kInterface, s.name + ": " + pcap_geterr(s.pcap));
      return;
    }
    after_dispatch(s, false, false);
    const uint64_t now = monotonic_ms();
    // PCAP_ERROR_BREAK is the stop's own pcap_breakloop, cleared by that call: read again at once.
    if (n == PCAP_ERROR_BREAK) continue;
    // Past the block timeout: only blocks already retired are read, until the ring is empty.
    if (now >= until && (n == 0 || now - start >= kDrainCapMs)) return;
    if (n == 0) {
      pollfd pfd{s.fd, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(until - now));
    }
  }
}

void CaptureSession::offline_loop(Source& s) {
  Batch in;
  in.may_borrow = true;  // packets are consumed before the next read: no need to copy them
  FileReader& reader = *s.reader;
  std::vector<const bpf_program*> programs;  // per interface, so the lookup is not per packet
  while (!stop_.load(std::memory_order_relaxed)) {
    const ReadStatus status = reader.read(in, kOfflineReadPackets, kOfflineReadBytes);
    const auto& ifs = reader.interfaces();
    if (s.file_stats.size() < ifs.size()) {
      std::lock_guard<std::mutex> lk(state_mu_);
      for (size_t i = interfaces_.size(); i < ifs.size(); ++i) {
        interfaces_.push_back(ifs[i]);
        stats_snapshot_.emplace_back();
      }
      s.file_stats.resize(ifs.size());
    }
    try {
      sync_sink_interfaces(ifs);
    } catch (const CaptureError& e) {
      set_error(e.kind(), e.what());
      break;
    }
    uint64_t read_here = 0;  // published once per batch: a locked add per packet cost ~100 ns
    const size_t count = in.records.size();
    for (size_t i = 0; i < count; ++i) {
      const PacketRecord& rec = in.records[i];
      if (stop_.load(std::memory_order_relaxed)) break;
      ++read_here;
      // The reader touched these packets a whole batch ago, and this thread may have moved to
      // another core since: reading a frame's ethertype was a cache miss at every decode.
      if (i + kPrefetchPackets < count) {
        const PacketRecord& ahead = in.records[i + kPrefetchPackets];
        prefetch_packet(in.bytes(ahead), ahead.caplen);
      }
      const uint8_t* pkt = in.bytes(rec);
      if (!opt_.filter.empty()) {
        if (rec.iface >= programs.size()) programs.resize(ifs.size(), nullptr);
        const bpf_program*& prog = programs[rec.iface];
        if (prog == nullptr) {
          try {
            prog = &s.file_filter->program(ifs[rec.iface].linktype);
          } catch (const CaptureError& e) {
            set_error(e.kind(), e.what());
            end_capture();
            break;
          }
        }
        struct pcap_pkthdr h{};
        h.caplen = rec.caplen;
        h.len = rec.origlen;
        if (pcap_offline_filter(prog, &h, pkt) == 0) continue;
      }
      ++s.file_stats[rec.iface].received;
      deliver(s, pkt, rec.caplen, rec.origlen, rec.ts_ns, rec.iface, pkt + rec.caplen, rec.optlen);
    }
    packets_read_.fetch_add(read_here, std::memory_order_relaxed);
    after_dispatch(s, false);
    if (status == ReadStatus::kEnd) break;
    if (status == ReadStatus::kError) {
      set_error(ErrorKind::kCorruptFile, reader.error());
      break;
    }
  }
  after_dispatch(s, true);
  thread_done();
}

void CaptureSession::after_dispatch(Source& s, bool final, bool idle) {
  if (shared_writer_ && !s.staging.empty()) {
    std::lock_guard<std::mutex> lk(writer_mu_);
    for (const PacketRecord& rec : s.staging.records) to_sinks(rec, s.staging.bytes(rec));
    s.staging.clear();
  }
  if (!consumers_.empty()) {
    std::unique_lock<std::mutex> lk(writer_mu_, std::defer_lock);
    if (shared_writer_) lk.lock();
    try {
      for (const auto& c : consumers_) c->dispatched();
    } catch (const CaptureError& e) {
      set_error(e.kind(), e.what());
      end_capture();
    }
  }
  const uint64_t now = monotonic_ms();
  if (opt_.deliver_batches && !s.js.empty() &&
      (final || now - s.js_started_ms >= opt_.batch_flush_ms)) {
    push_js_batch(s, reader_based_);  // a file can wait for the consumer; live capture cannot
  }
  // At most every kStatsRefreshMs while busy, and whenever the ring went idle (our poll timed
  // out), so counters are current once a burst is over.
  if (final || idle || now - s.last_refresh_ms >= kStatsRefreshMs) {
    refresh_stats(s);
    s.last_refresh_ms = now;
  }
  if (writer_ && !reader_based_ && !final && (opt_.flush_per_block || now - s.last_flush_ms >= kLiveFlushMs)) {
    std::unique_lock<std::mutex> lk(writer_mu_, std::defer_lock);
    if (shared_writer_) lk.lock();
    try {
      writer_->flush();
    } catch (const CaptureError& e) {
      set_error(e.kind(), e.what());
      end_capture();
    }
    s.last_flush_ms = now;
  }
}

void CaptureSession::refresh_stats(Source& s) {
  if (s.pcap) {
    struct pcap_stat ps{};
    if (pcap_stats(s.pcap, &ps) == 0) {
      s.stats.received = ps.ps_recv;
      s.stats.dropped_kernel = ps.ps_drop;
      s.stats.dropped_iface = ps.ps_ifdrop;
    }
    std::lock_guard<std::mutex> lk(state_mu_);
    stats_snapshot_[s.iface] = s.stats;
  } else {
    std::lock_guard<std::mutex> lk(state_mu_);
    for (size_t i = 0; i < s.file_stats.size() && i < stats_snapshot_.size(); ++i) {
      stats_snapshot_[i] = s.file_stats[i];
    }
  }
}

void CaptureSession::set_error(ErrorKind kind, const std::string& message) {
  std::lock_guard<std::mutex> lk(state_mu_);
  if (error_.empty()) {
    error_ = message;
    error_kind_ = kind;
  }
}

void CaptureSession::thread_done() {
  if (--running_ != 0) return;
  for (const auto& c : consumers_) {
    try {
      c->finish();
    } catch (const CaptureError& e) {
      set_error(e.kind(), e.what());
    }
  }
  try {
    if (writer_) writer_->close();
  } catch (const CaptureError& e) {
    set_error(e.kind(), e.what());
  }
  finished_ = true;
  if (on_finished_) on_finished_();
}

void CaptureSession::tend_read_input(size_t behind, size_t ahead) {
  if (reader_based_ && !sources_.empty() && sources_[0]->reader) sources_[0]->reader->tend_mapping(behind, ahead);
}

std::vector<InterfaceInfo> CaptureSession::interfaces() const {
  if (reader_based_ && !started_.load()) return sources_[0]->reader->interfaces();
  std::lock_guard<std::mutex> lk(state_mu_);
  return interfaces_;
}

std::vector<InterfaceStats> CaptureSession::stats() const {
  std::lock_guard<std::mutex> lk(state_mu_);
  return stats_snapshot_;
}

std::string CaptureSession::error() const {
  std::lock_guard<std::mutex> lk(state_mu_);
  return error_;
}

ErrorKind CaptureSession::error_kind() const {
  std::lock_guard<std::mutex> lk(state_mu_);
  return error_kind_;
}

std::vector<std::string> CaptureSession::files() const {
  return writer_ ? writer_->files() : std::vector<std::string>{};
}

std::vector<std::string> CaptureSession::take_rotated_files() {
  return writer_ ? writer_->take_rotated_files() : std::vector<std::string>{};
}

}  // namespace podspan
