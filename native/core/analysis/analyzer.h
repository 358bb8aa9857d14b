// The Analyzer: a PacketConsumer that runs analytics on the capture thread. It owns a
// TcpPipeline (decode, defragment, reassemble) whose events feed the connection tracker
// (FlowRecord per TCP connection) and the application analyser (HTTP, HTTP/2, DNS records),
// and hands UDP datagrams on port 53 to the application analyser's DNS entry.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "analysis/conn_tracker.h"
#include "analysis/records.h"
#include "common/packet.h"
#include "decode/defrag.h"
#include "reassembly/reassembly.h"
#include "reassembly/tcp_pipeline.h"

namespace podspan {

class Detector;

// What the Analyzer calls on the application analyser (AppAnalyzer, analysis/app_analyzer.h),
// in the reassembler's event order. An interface, so the Analyzer builds and is tested without
// it; AppEventsFor<T> adapts any class with these member functions.
class AppEvents {
 public:
  virtual ~AppEvents() = default;
  virtual void on_open(const StreamInfo& s) = 0;
  virtual void set_client_side(uint32_t slot, int client_side) = 0;
  virtual void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) = 0;
  virtual void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) = 0;
  virtual void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) = 0;
  virtual void on_udp(const RecordEndpoints& e, const uint8_t* payload, uint32_t len, uint64_t ts) = 0;
  virtual void expire(uint64_t now) = 0;
  virtual void finish(uint64_t now) = 0;
  virtual const char* app_of(uint32_t slot) const = 0;
  // The analyser's counters by name (for stats), into `out` (cleared first; reuses its capacity).
  virtual void counters(std::vector<std::pair<const char*, uint64_t>>& out) const { out.clear(); }
};

template <class App>
class AppEventsFor : public AppEvents {
 public:
  explicit AppEventsFor(std::unique_ptr<App> app) : app_(std::move(app)) {}
  App& app() { return *app_; }
  const App& app() const { return *app_; }
  void on_open(const StreamInfo& s) override { app_->on_open(s); }
  void set_client_side(uint32_t slot, int side) override { app_->set_client_side(slot, side); }
  void on_data(const StreamInfo& s, int dir, uint64_t off, const uint8_t* p, uint32_t n, uint64_t ts) override {
    app_->on_data(s, dir, off, p, n, ts);
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t off, uint64_t n) override { app_->on_gap(s, dir, off, n); }
  void on_close(const StreamInfo& s, CloseReason r, uint64_t ts) override { app_->on_close(s, r, ts); }
  void on_udp(const RecordEndpoints& e, const uint8_t* p, uint32_t n, uint64_t ts) override { app_->on_udp(e, p, n, ts); }
  void expire(uint64_t now) override { app_->expire(now); }
  void finish(uint64_t now) override { app_->finish(now); }
  const char* app_of(uint32_t slot) const override { return app_->app_of(slot); }

 private:
  std::unique_ptr<App> app_;
};

struct AnalyzerOptions {
  ReassemblyConfig reassembly;  // reassembly.idle_timeout_ns: the flow timeout
  DefragConfig defrag;
};

struct AnalyzerStats : TcpPipelineStats {
  uint64_t flow_records = 0;
  uint64_t udp_dns_datagrams = 0;
};

class Analyzer : public PacketConsumer, private StreamSink, private SegmentObserver, private DatagramObserver {
 public:
  // `app` may be null: then only flow records are made.
  Analyzer(AnalyzerOptions options, RecordSink& sink, AppEvents* app);
  // Feeds the detector (not owned; none by default) every TCP packet, completed handshake and
  // UDP datagram. HTTP records reach it through the sink (DetectingSink, detection/detecting_sink.h).
  void set_detector(Detector* detector);

  void add_interface(const InterfaceInfo& info) override { pipeline_.add_interface(info.linktype); }
  void consume(const PacketRecord& rec, const uint8_t* bytes) override;
  void input_is_stable(const uint8_t* begin, size_t len) override { pipeline_.input_is_stable(begin, len); }
  void finish() override;

  AnalyzerStats stats() const;  // the capture thread's view

 private:
  void prefetch(uint32_t slot) const override { tracker_.prefetch(slot); }
  void on_open(const StreamInfo& s) override;
  void on_data(const StreamInfo& s, int dir, uint64_t offset, const uint8_t* data, uint32_t len, uint64_t ts) override;
  void on_gap(const StreamInfo& s, int dir, uint64_t offset, uint64_t len) override;
  void on_close(const StreamInfo& s, CloseReason reason, uint64_t ts) override;
  void on_segment(const StreamInfo& s, int dir, const Decoded& d, uint64_t ts) override;
  void on_datagram(const Decoded& d, const uint8_t* payload, uint32_t len, uint64_t ts) override;

  ConnTracker tracker_;
  AppEvents* app_;
  Detector* detector_ = nullptr;
  TcpPipeline pipeline_;
  uint64_t last_ts_ = 0, last_expire_ts_ = 0;
  uint64_t dns_datagrams_ = 0;
};

}  // namespace podspan
