#include "detection/scan_group.h"

namespace podspan {

ScanGroup::ScanGroup(const DetectConfig& config) : detector_(config, collect_, Detector::Role::kScanGroup) {
  detector_.set_evidence(&requests_);
}

template <class Fn>
void ScanGroup::locked(std::vector<AlertRecord>& made, Fn&& fn) {
  std::lock_guard<std::mutex> lk(mu_);
  collect_.to = &made;
  fn();
  collect_.to = nullptr;
}

void ScanGroup::join() {
  std::lock_guard<std::mutex> lk(mu_);
  ++members_;
}

void ScanGroup::leave(std::vector<AlertRecord>& made) {
  locked(made, [&] {
    if (members_ > 0 && --members_ == 0) detector_.finish();
  });
}

void ScanGroup::on_tcp_packet(const Decoded& d, uint64_t ts, std::vector<AlertRecord>& made) {
  locked(made, [&] { detector_.on_tcp_packet(d, ts); });
}

void ScanGroup::on_udp(const Decoded& d, uint64_t ts, std::vector<AlertRecord>& made) {
  locked(made, [&] { detector_.on_udp(d, ts); });
}

void ScanGroup::advance_idle(uint64_t now, std::vector<AlertRecord>& made) {
  locked(made, [&] { detector_.advance_idle(now); });
}

// Called by the group's Detector, under mu_.
std::string ScanGroup::Requests::trigger(const std::string& name, const std::string& comment, uint64_t alert_ts) {
  Trigger t;
  t.seq = g_.triggers_made_.load(std::memory_order_relaxed) + 1;
  t.name = name;
  t.comment = comment;
  t.alert_ts = alert_ts;
  g_.triggers_.push_back(std::move(t));
  if (g_.triggers_.size() > kKeptTriggers) g_.triggers_.pop_front();
  g_.triggers_made_.store(g_.triggers_.back().seq, std::memory_order_release);
  return "";  // each member names its own file
}

void ScanGroup::triggers_after(uint64_t seq, std::vector<Trigger>& out) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (const Trigger& t : triggers_)
    if (t.seq > seq) out.push_back(t);
}

DetectStats ScanGroup::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return detector_.stats();
}

}  // namespace podspan
