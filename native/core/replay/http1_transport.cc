#include "replay/http1_transport.h"

#include <cstring>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/thread_name.h"
#include "replay/response_reader.h"

namespace podspan {

namespace {

constexpr uint64_t kWakeKey = ~uint64_t{0};
constexpr size_t kReadBytes = 64 * 1024;

uint64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}
uint64_t now_ms() { return now_us() / 1000; }

uint64_t key_of(uint32_t lane, uint32_t gen) { return (uint64_t{lane} << 32) | gen; }

}  // namespace

const char* replay_failure_name(ReplayFailure f) {
  switch (f) {
    case ReplayFailure::kNone: return "none";
    case ReplayFailure::kRefused: return "refused";
    case ReplayFailure::kReset: return "reset";
    case ReplayFailure::kTimeout: return "timeout";
    case ReplayFailure::kUnreachable: return "unreachable";
    case ReplayFailure::kProtocol: return "protocol";
    case ReplayFailure::kError: return "error";
  }
  return "error";
}

ReplayFailure replay_failure_of_errno(int err) {
  switch (err) {
    case ECONNREFUSED: return ReplayFailure::kRefused;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED: return ReplayFailure::kReset;
    case ETIMEDOUT: return ReplayFailure::kTimeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL: return ReplayFailure::kUnreachable;
    default: return ReplayFailure::kError;
  }
}

struct Http1Transport::Lane {
  Lane(uint32_t lane_id, size_t max_body) : id(lane_id), reader(max_body) {}
  uint32_t id;
  uint32_t gen = 0;  // bumped per connection: events of a closed connection are ignored
  int fd = -1;
  bool connecting = false;
  bool in_flight = false;  // the front request is being written or answered
  bool closing = false;    // close_lane was called
  bool watching_out = false;
  size_t written = 0;
  size_t address = 0, address_tries = 0;  // the target's address connected to, and how many were tried
  uint64_t written_us = 0, first_byte_us = 0;
  std::deque<Request> queue;
  ResponseReader reader;
};

Http1Transport::Http1Transport(Http1TransportOptions options, std::function<void()> on_ready)
    : opt_(std::move(options)), on_ready_(std::move(on_ready)), read_buf_(kReadBytes), same_(opt_.same) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { run(); });
  name_thread(thread_, "podspan-replay");
}

Http1Transport::~Http1Transport() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void Http1Transport::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

size_t Http1Transport::submit_batch(const ReplaySubmission* items, size_t n, const char* bytes) {
  size_t refused = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t deadline = now_ms() + opt_.timeout_ms;
    size_t off = 0;
    for (size_t i = 0; i < n; ++i) {
      const ReplaySubmission& s = items[i];
      if (s.flags & ReplaySubmission::kCloseLane) {
        if (!stopping_) inbox_.push_back(Command{s.lane, true, Request{0, false, false, 0, {}, false, false, {}}});
        continue;
      }
      const char* at = bytes + off;
      off += s.length;
      if (stopping_ || outstanding_ >= opt_.max_queued) {
        ++stats_.refused_full;
        ++refused;
        continue;
      }
      ++outstanding_;
      ++stats_.submitted;
      inbox_.push_back(Command{s.lane, false,
                               Request{s.request_id, (s.flags & ReplaySubmission::kHead) != 0, (s.flags & ReplaySubmission::kCloseAfter) != 0,
                                       deadline, std::string(at, s.length), (s.flags & ReplaySubmission::kFromRow) != 0,
                                       (s.flags & ReplaySubmission::kCompareAnswer) != 0, {}}});
    }
  }
  // A write to the eventfd only when the thread sleeps (or is about to): a busy thread takes the
  // inbox at the end of its turn anyway, and each wake-up costs this thread a system call.
  if (n > 0 && sleeping_.exchange(false)) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  return refused;
}

bool Http1Transport::submit(uint32_t lane, uint32_t request_id, bool head, bool close_after, const std::string& request) {
  ReplaySubmission s;
  s.lane = lane;
  s.request_id = request_id;
  s.flags = (head ? ReplaySubmission::kHead : 0) | (close_after ? ReplaySubmission::kCloseAfter : 0);
  s.length = static_cast<uint32_t>(request.size());
  return submit_batch(&s, 1, request.data()) == 0;
}

void Http1Transport::close_lane(uint32_t lane) {
  ReplaySubmission s;
  s.lane = lane;
  s.flags = ReplaySubmission::kCloseLane;
  submit_batch(&s, 1, nullptr);
}

bool Http1Transport::take(ReplayCompletions& out) {
  out.clear();
  std::lock_guard<std::mutex> lock(mu_);
  if (done_.records.empty()) return false;
  std::swap(out, done_);
  outstanding_ -= out.records.size();
  return true;
}

Http1TransportStats Http1Transport::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Http1Transport::run() {
  if (opt_.addresses.empty()) {
    // Every address the name has, in the resolver's order: a connect refused or unreachable on
    // one tries the next (undici gets through there too, by Node's autoSelectFamily), and the one
    // that answered is tried first from then on. Resolved once: a run's target keeps its addresses.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(opt_.port);
    const int rc = getaddrinfo(opt_.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
      resolve_message_ = opt_.host + ": " + gai_strerror(rc != 0 ? rc : EAI_NONAME);
    }
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      sockaddr_storage s{};
      memcpy(&s, a->ai_addr, a->ai_addrlen);
      addrs_.push_back(s);
    }
    if (found) freeaddrinfo(found);
  } else {
    addrs_ = opt_.addresses;
  }
  resolve_error_ = addrs_.empty() ? 1 : 0;
  if (resolve_error_ && resolve_message_.empty()) resolve_message_ = opt_.host + ": no address";

  epoll_event events[128];
  for (;;) {
    int timeout = -1;
    if (!deadlines_.empty()) {
      const uint64_t now = now_ms();
      timeout = deadlines_.front().at_ms <= now ? 0 : static_cast<int>(deadlines_.front().at_ms - now);
    }
    // Sleeping is announced before the inbox is looked at, and a submit pushes before it looks at
    // the flag: one of the two sees the other, so no request waits for a wake-up that never comes.
    sleeping_.store(true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!inbox_.empty() || stopping_) timeout = 0;
    }
    const int n = epoll_wait(epoll_fd_, events, 128, timeout);
    sleeping_.store(false);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeKey) {
        uint64_t v;
        (void)!read(wake_fd_, &v, sizeof v);
        continue;
      }
      on_event(events[i].data.u64, events[i].events);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    drain_inbox();
    expire(now_ms());
    if (!local_.records.empty()) {
      bool was_empty;
      {
        std::lock_guard<std::mutex> lock(mu_);
        was_empty = done_.records.empty();
        stats_.completed += local_.records.size();
        if (was_empty) {
          std::swap(done_, local_);
        } else {
          done_.records.insert(done_.records.end(), local_.records.begin(), local_.records.end());
          done_.data += local_.data;
        }
      }
      local_.clear();
      if (was_empty && on_ready_) on_ready_();
    }
  }
  for (auto& [id, lane] : lanes_) close_connection(*lane);
  lanes_.clear();
}

void Http1Transport::drain_inbox() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    work_.swap(inbox_);
  }
  for (Command& c : work_) {
    auto it = lanes_.find(c.lane);
    if (it == lanes_.end()) it = lanes_.emplace(c.lane, std::make_unique<Lane>(c.lane, opt_.max_body)).first;
    Lane& lane = *it->second;
    if (c.close) {
      lane.closing = true;
    } else if (c.request.from_row && !from_row_to_wire(c.request)) {
      // Not what the shadow extractor writes: failed before anything is sent.
      ReplayCompletionRecord r;
      r.request_id = c.request.id;
      r.failure = static_cast<uint8_t>(ReplayFailure::kError);
      static const std::string kMessage = "the request's exchange row could not be read";
      r.headers_len = static_cast<uint32_t>(kMessage.size());
      push_completion(r, kMessage.data(), kMessage.size(), nullptr, 0);
    } else {
      deadlines_.push_back(Deadline{c.request.deadline_ms, c.lane, c.request.id});
      lane.queue.push_back(std::move(c.request));
      pump(lane);
    }
    finish_lane_if_done(c.lane);
  }
  work_.clear();
}

namespace {

// The row at the start of `bytes` (its length is its first u32), or empty when it does not fit.
std::string_view leading_row(std::string_view bytes) {
  uint32_t row_length = 0;
  if (bytes.size() < sizeof row_length) return {};
  std::memcpy(&row_length, bytes.data(), sizeof row_length);
  return row_length > bytes.size() ? std::string_view() : bytes.substr(0, row_length);
}

}  // namespace

// A request handed over as row + body (+ production's body to compare with) becomes head + body.
bool Http1Transport::from_row_to_wire(Request& r) {
  const std::string_view bytes(r.bytes);
  const std::string_view row = leading_row(bytes);
  if (row.empty() || !read_http_row(row, row_request_, r.compare ? &row_response_ : nullptr)) return false;
  std::string_view body = bytes.substr(row.size());
  if (r.compare) {
    // Production's answer is what is compared with: a row without one is not a request to compare.
    if (!row_response_.present || body.size() != size_t{row_request_.body_len} + row_response_.body_len) return false;
    body = body.substr(0, row_request_.body_len);
  }
  wire_.clear();
  append_request_head(row_request_, body.size(), opt_.head, wire_, r.close_after);
  wire_.append(body);
  r.head = row_request_.method == "HEAD";
  // Kept for the answer's check (the row is read again then: the views die with this turn's scratch).
  if (r.compare) r.production.swap(r.bytes);
  r.bytes.swap(wire_);
  r.from_row = false;
  return true;
}

bool Http1Transport::same_as_production(const Request& r, const ResponseReader::Answer& a) {
  const std::string_view row = leading_row(r.production);
  if (row.empty() || !read_http_row(row, row_request_, &row_response_)) return false;
  const std::string_view production_body = std::string_view(r.production).substr(row.size() + row_request_.body_len);
  return same_.same(row_response_, production_body, a);
}

void Http1Transport::finish_lane_if_done(uint32_t id) {
  auto it = lanes_.find(id);
  if (it == lanes_.end()) return;
  Lane& lane = *it->second;
  if (!lane.closing || !lane.queue.empty()) return;
  close_connection(lane);
  lanes_.erase(it);
}

void Http1Transport::watch(Lane& lane, uint32_t events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key_of(lane.id, lane.gen);
  epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, lane.fd, &ev);
  lane.watching_out = (events & EPOLLOUT) != 0;
}

// Sends the lane's next request when nothing is in flight, opening the connection first.
void Http1Transport::pump(Lane& lane) {
  while (!lane.in_flight && !lane.queue.empty()) {
    if (lane.fd >= 0 && lane.connecting) return;  // the connect's completion continues
    if (lane.queue.front().deadline_ms <= now_ms()) {
      fail_front(lane, ReplayFailure::kTimeout, "no answer within " + std::to_string(opt_.timeout_ms) + " ms");
      continue;
    }
    if (resolve_error_ != 0) {
      fail_front(lane, ReplayFailure::kUnreachable, resolve_message_);
      continue;
    }
    if (lane.fd < 0) {
      start_connect(lane);
      continue;  // connecting (returns above), or failed (the front was failed)
    }
    write_front(lane);
  }
}

namespace {
socklen_t length_of(const sockaddr_storage& a) { return a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }
// Failures after which the target's next address is worth a try.
bool try_next_address(int err) { return err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH || err == EADDRNOTAVAIL || err == EAFNOSUPPORT; }
}  // namespace

void Http1Transport::start_connect(Lane& lane) {
  lane.address_tries = 0;
  connect_next_address(lane);
}

// Connects to the address after the lane's last try (from the preferred one on); fails the
// front request when every address failed.
void Http1Transport::connect_next_address(Lane& lane) {
  for (;;) {
    const size_t index = (preferred_address_ + lane.address_tries) % addrs_.size();
    ++lane.address_tries;
    const sockaddr_storage& addr = addrs_[index];
    int err = 0;
    const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
    } else if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), length_of(addr)) != 0 && errno != EINPROGRESS) {
      err = errno;
      ::close(fd);
    }
    if (err != 0) {
      if (try_next_address(err) && lane.address_tries < addrs_.size()) continue;
      fail_front(lane, replay_failure_of_errno(err), std::string("connect: ") + strerror(err));
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lane.fd = fd;
    lane.address = index;
    ++lane.gen;
    lane.reader.reset();
    lane.connecting = true;
    watch(lane, EPOLLIN | EPOLLOUT, true);
    return;
  }
}

void Http1Transport::write_front(Lane& lane) {
  Request& r = lane.queue.front();
  if (!lane.in_flight) {
    lane.in_flight = true;
    lane.written = 0;
    lane.written_us = now_us();
    lane.first_byte_us = 0;
    lane.reader.expect(r.head);
  }
  while (lane.written < r.bytes.size()) {
    const ssize_t n = send(lane.fd, r.bytes.data() + lane.written, r.bytes.size() - lane.written, MSG_NOSIGNAL);
    if (n > 0) {
      lane.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!lane.watching_out) watch(lane, EPOLLIN | EPOLLOUT, false);
      return;
    }
    const int err = n < 0 ? errno : EPIPE;
    fail_front(lane, replay_failure_of_errno(err), std::string("send: ") + strerror(err));
    close_connection(lane);
    return;
  }
  lane.written_us = now_us();  // latency counts from the request's last byte, as production's does
  if (lane.watching_out) watch(lane, EPOLLIN, false);
}

void Http1Transport::on_event(uint64_t key, uint32_t events) {
  auto it = lanes_.find(static_cast<uint32_t>(key >> 32));
  if (it == lanes_.end()) return;
  Lane& lane = *it->second;
  if (lane.fd < 0 || lane.gen != static_cast<uint32_t>(key)) return;  // a connection closed since
  if (lane.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(lane.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (err != 0) {
      close_connection(lane);
      if (!lane.queue.empty()) {
        if (try_next_address(err) && lane.address_tries < addrs_.size()) {
          connect_next_address(lane);
        } else {
          fail_front(lane, replay_failure_of_errno(err), std::string("connect: ") + strerror(err));
        }
      }
    } else {
      lane.connecting = false;
      preferred_address_ = lane.address;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.connections;
      }
      if (lane.queue.empty()) {
        watch(lane, EPOLLIN, false);
      }
    }
    pump(lane);
    finish_lane_if_done(lane.id);
    return;
  }
  if ((events & EPOLLOUT) && lane.in_flight && lane.written < lane.queue.front().bytes.size()) write_front(lane);
  if (lane.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(lane);
  const uint32_t id = lane.id;
  if (lanes_.count(id)) {
    pump(lane);
    finish_lane_if_done(id);
  }
}

void Http1Transport::on_readable(Lane& lane) {
  for (;;) {
    const ssize_t n = recv(lane.fd, read_buf_.data(), read_buf_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
      const int err = errno;
      if (lane.in_flight) fail_front(lane, replay_failure_of_errno(err), std::string("recv: ") + strerror(err));
      close_connection(lane);
      return;
    }
    if (n == 0) {
      // The target closed: a close-delimited body ends here; anything else unfinished is a reset.
      if (lane.in_flight) {
        if (lane.reader.finish() == ResponseReader::Result::kComplete) {
          complete_front(lane);
        } else {
          fail_front(lane, ReplayFailure::kReset, "the target closed the connection before answering");
        }
      }
      close_connection(lane);
      return;
    }
    if (lane.in_flight && lane.first_byte_us == 0) lane.first_byte_us = now_us();
    const ResponseReader::Result r = lane.reader.feed(read_buf_.data(), static_cast<size_t>(n));
    if (r == ResponseReader::Result::kError) {
      if (lane.in_flight) fail_front(lane, ReplayFailure::kProtocol, std::string("response: ") + lane.reader.error());
      close_connection(lane);
      return;
    }
    if (r == ResponseReader::Result::kComplete && lane.in_flight) {
      const bool whole_request = lane.written == lane.queue.front().bytes.size();
      const bool close_after = lane.queue.front().close_after || !lane.reader.answer().keep_alive || !whole_request;
      complete_front(lane);
      if (close_after) close_connection(lane);
      return;  // level-triggered: bytes still waiting come with the next epoll_wait
    }
  }
}

void Http1Transport::push_completion(const ReplayCompletionRecord& r, const char* headers, size_t headers_len, const char* body,
                                     size_t body_len) {
  local_.records.push_back(r);
  local_.data.append(headers, headers_len);
  local_.data.append(body, body_len);
}

void Http1Transport::complete_front(Lane& lane) {
  const ResponseReader::Answer& a = lane.reader.answer();
  const uint64_t now = now_us();
  ReplayCompletionRecord r;
  const Request& request = lane.queue.front();
  r.request_id = request.id;
  r.status = static_cast<uint16_t>(a.status);
  r.flags = a.content.body_truncated ? ReplayCompletionRecord::kBodyTruncated : 0;
  r.body_bytes = static_cast<double>(a.body_bytes);
  const uint64_t first = lane.first_byte_us ? lane.first_byte_us : now;
  r.latency_ms = first > lane.written_us ? (first - lane.written_us) / 1000.0 : 0;
  r.duration_ms = now > lane.written_us ? (now - lane.written_us) / 1000.0 : 0;
  if (request.compare && same_as_production(request, a)) {
    // The same as production's: neither headers nor body are handed over.
    r.flags |= ReplayCompletionRecord::kSameAsProduction;
    push_completion(r, nullptr, 0, nullptr, 0);
  } else {
    const size_t start = local_.data.size();
    for (const Http1HeaderSpan& h : a.content.headers) {
      const std::string_view name = a.content.name(h), value = a.content.value(h);
      local_.data.append(name.data(), name.size());
      local_.data.push_back('\0');
      local_.data.append(value.data(), value.size());
      local_.data.push_back('\0');
    }
    r.headers_len = static_cast<uint32_t>(local_.data.size() - start);
    r.body_len = static_cast<uint32_t>(a.content.body.size());
    push_completion(r, nullptr, 0, a.content.body.data(), a.content.body.size());
  }
  lane.queue.pop_front();
  lane.in_flight = false;
}

void Http1Transport::fail_front(Lane& lane, ReplayFailure failure, const std::string& message) {
  ReplayCompletionRecord r;
  r.request_id = lane.queue.front().id;
  r.failure = static_cast<uint8_t>(failure);
  r.headers_len = static_cast<uint32_t>(message.size());
  push_completion(r, message.data(), message.size(), nullptr, 0);
  lane.queue.pop_front();
  lane.in_flight = false;
}

void Http1Transport::close_connection(Lane& lane) {
  if (lane.fd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, lane.fd, nullptr);
  ::close(lane.fd);
  lane.fd = -1;
  ++lane.gen;
  lane.connecting = lane.watching_out = false;
}

// Requests whose time ran out: the one in flight loses its connection (its answer would come
// too late and belong to no one); one still waiting is failed before it is sent.
void Http1Transport::expire(uint64_t now) {
  while (!deadlines_.empty() && deadlines_.front().at_ms <= now) {
    const Deadline d = deadlines_.front();
    deadlines_.pop_front();
    auto it = lanes_.find(d.lane);
    if (it == lanes_.end()) continue;
    Lane& lane = *it->second;
    if (lane.queue.empty() || lane.queue.front().id != d.request_id) continue;  // answered in time
    const bool was_in_flight = lane.in_flight;
    fail_front(lane, ReplayFailure::kTimeout, "no answer within " + std::to_string(opt_.timeout_ms) + " ms");
    if (was_in_flight) close_connection(lane);
    pump(lane);
    finish_lane_if_done(d.lane);
  }
}

}  // namespace podspan
