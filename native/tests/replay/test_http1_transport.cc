// Http1Transport against a loopback server thread in the test: answers in lane order on the
// lane's one connection, completions in batches with one on_ready per batch, Connection: close
// opening a new connection for the lane's next request, the queue bound (refused and counted),
// timeouts, refused connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "replay/http1_transport.h"

using namespace podspan;

namespace {

// Accepts connections and answers each request head with `answer` (unless silent), one
// connection after the other. Counts connections.
class LoopbackServer {
 public:
  explicit LoopbackServer(bool silent = false) : silent_(silent) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 64);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void serve() {
    std::vector<int> conns;
    std::vector<std::string> pending;
    while (!stop_) {
      std::vector<pollfd> p{{fd_, POLLIN, 0}};
      for (int c : conns) p.push_back({c, POLLIN, 0});
      if (poll(p.data(), p.size(), 20) <= 0) continue;
      if (p[0].revents & POLLIN) {
        conns.push_back(accept(fd_, nullptr, nullptr));
        pending.emplace_back();
        ++connections_;
      }
      for (size_t i = 1; i < p.size(); ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
        char buf[4096];
        const ssize_t n = read(conns[i - 1], buf, sizeof buf);
        if (n <= 0) {
          ::close(conns[i - 1]);
          conns[i - 1] = -1;
          continue;
        }
        std::string& text = pending[i - 1];
        text.append(buf, static_cast<size_t>(n));
        size_t at;
        while ((at = text.find("\r\n\r\n")) != std::string::npos) {
          const bool close = text.substr(0, at).find("connection: close") != std::string::npos;
          const std::string target = text.substr(4, text.find(' ', 4) - 4);
          text.erase(0, at + 4);
          if (silent_) continue;
          const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(target.size()) + "\r\n" +
                                     (close ? "Connection: close\r\n" : "") + "\r\n" + target;
          (void)!write(conns[i - 1], answer.data(), answer.size());
          if (close) {
            ::close(conns[i - 1]);
            conns[i - 1] = -1;
            break;
          }
        }
      }
      for (size_t i = conns.size(); i-- > 0;)
        if (conns[i] < 0) {
          conns.erase(conns.begin() + static_cast<long>(i));
          pending.erase(pending.begin() + static_cast<long>(i));
        }
    }
    for (int c : conns) ::close(c);
  }

  int fd_;
  uint16_t port_ = 0;
  bool silent_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string request(const std::string& target, bool close) {
  return "GET " + target + " HTTP/1.1\r\nhost: t\r\nconnection: " + (close ? "close" : "keep-alive") + "\r\n\r\n";
}

// Completions collected from on_ready wake-ups until `n` arrived (or 5 s passed).
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  int wakes = 0;
  void wake() {
    std::lock_guard<std::mutex> l(mu);
    ++wakes;
    cv.notify_all();
  }
  std::vector<ReplayCompletionRecord> records;
  std::vector<std::string> bodies;  // the body of each record (failures: the message)
  void wait_for(Http1Transport& t, size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    ReplayCompletions batch;
    while (records.size() < n && std::chrono::steady_clock::now() < until) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait_for(l, std::chrono::milliseconds(20));
      }
      while (t.take(batch)) {
        size_t off = 0;
        for (const ReplayCompletionRecord& r : batch.records) {
          records.push_back(r);
          bodies.push_back(r.failure ? batch.data.substr(off, r.headers_len) : batch.data.substr(off + r.headers_len, r.body_len));
          off += r.headers_len + r.body_len;
        }
      }
    }
  }
};

}  // namespace

TEST(http1_transport_answers_each_lane_in_order_on_its_connection) {
  LoopbackServer server;
  Collector c;
  Http1Transport t({"127.0.0.1", server.port(), 2000, 1024, 1000}, [&c] { c.wake(); });
  for (uint32_t i = 0; i < 5; ++i) CHECK(t.submit(1, 10 + i, false, false, request("/a" + std::to_string(i), false)));
  for (uint32_t i = 0; i < 3; ++i) CHECK(t.submit(2, 20 + i, false, true, request("/b" + std::to_string(i), true)));
  t.close_lane(1);
  t.close_lane(2);
  c.wait_for(t, 8);
  CHECK_EQ(c.records.size(), 8u);
  std::vector<std::string> lane1;
  for (size_t i = 0; i < c.records.size(); ++i) {
    CHECK_EQ(int(c.records[i].failure), 0);
    CHECK_EQ(c.records[i].status, 200);
    if (c.records[i].request_id < 20) lane1.push_back(c.bodies[i]);
  }
  CHECK_EQ(lane1.size(), 5u);
  for (size_t i = 0; i < lane1.size(); ++i) CHECK_EQ(lane1[i], "/a" + std::to_string(i));
  // Lane 1 on one connection, lane 2 on one per request (each asked to close).
  CHECK_EQ(server.connections(), 4);
  CHECK(c.wakes <= 8);
  CHECK_EQ(t.stats().completed, 8u);
}

TEST(http1_transport_bounded_queue_timeouts_and_refused) {
  LoopbackServer silent(true);
  Collector c;
  Http1Transport t({"127.0.0.1", silent.port(), 150, 1024, 2}, [&c] { c.wake(); });
  CHECK(t.submit(1, 1, false, false, request("/x", false)));
  CHECK(t.submit(1, 2, false, false, request("/y", false)));
  CHECK(!t.submit(1, 3, false, false, request("/z", false)));  // two outstanding: full
  CHECK_EQ(t.stats().refused_full, 1u);
  c.wait_for(t, 2);
  CHECK_EQ(c.records.size(), 2u);
  for (const ReplayCompletionRecord& r : c.records) CHECK_EQ(r.failure, uint8_t(ReplayFailure::kTimeout));
  CHECK(t.submit(1, 4, false, false, request("/w", false)));  // room again once taken

  // A port nobody listens on (a listener closed at once).
  uint16_t closed;
  {
    LoopbackServer gone;
    closed = gone.port();
  }
  Collector c2;
  Http1Transport refused({"127.0.0.1", closed, 1000, 1024, 10}, [&c2] { c2.wake(); });
  CHECK(refused.submit(7, 1, false, false, request("/", false)));
  c2.wait_for(refused, 1);
  CHECK_EQ(c2.records.size(), 1u);
  if (!c2.records.empty()) CHECK_EQ(c2.records[0].failure, uint8_t(ReplayFailure::kRefused));
}

TEST(http1_transport_batch_refuses_only_the_last_requests_never_lane_ends) {
  LoopbackServer server;
  Collector c;
  Http1Transport t({"127.0.0.1", server.port(), 2000, 1024, 2}, [&c] { c.wake(); });
  const std::string a = request("/a", false), b = request("/b", false), d = request("/d", false);
  const std::string bytes = a + b + d;
  const ReplaySubmission items[] = {
      {1, 1, 0, static_cast<uint32_t>(a.size())},
      {1, 2, 0, static_cast<uint32_t>(b.size())},
      {1, 3, 0, static_cast<uint32_t>(d.size())},  // a third outstanding: refused
      {1, 0, ReplaySubmission::kCloseLane, 0},     // still taken: the lane ends after /b
  };
  CHECK_EQ(t.submit_batch(items, 4, bytes.data()), 1u);
  c.wait_for(t, 2);
  CHECK_EQ(c.records.size(), 2u);
  if (c.records.size() == 2) {
    CHECK_EQ(c.records[0].request_id, 1u);
    CHECK_EQ(c.bodies[0], std::string("/a"));
    CHECK_EQ(c.records[1].request_id, 2u);
    CHECK_EQ(c.bodies[1], std::string("/b"));
  }
  CHECK_EQ(t.stats().refused_full, 1u);
  CHECK_EQ(server.connections(), 1);
}

TEST(http1_transport_tries_the_next_address_when_one_refuses) {
  // The target's first address refuses (::1, where nothing listens on that port), the second
  // answers (127.0.0.1): as a name with an AAAA and an A record whose service listens on IPv4 only.
  LoopbackServer server;
  sockaddr_storage v6{}, v4{};
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&v6);
  a6->sin6_family = AF_INET6;
  a6->sin6_addr = in6addr_loopback;
  a6->sin6_port = htons(server.port());
  auto* a4 = reinterpret_cast<sockaddr_in*>(&v4);
  a4->sin_family = AF_INET;
  a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a4->sin_port = htons(server.port());

  Http1TransportOptions opt{"test-target", server.port(), 2000, 1024, 100};
  opt.addresses = {v6, v4};
  Collector c;
  Http1Transport t(opt, [&c] { c.wake(); });
  CHECK(t.submit(1, 1, false, true, request("/first", true)));
  CHECK(t.submit(2, 2, false, true, request("/second", true)));
  c.wait_for(t, 2);
  CHECK_EQ(c.records.size(), 2u);
  for (const ReplayCompletionRecord& r : c.records) CHECK_EQ(int(r.failure), 0);
  CHECK_EQ(server.connections(), 2);

  Http1TransportOptions only_v6{"test-target", server.port(), 2000, 1024, 100};
  only_v6.addresses = {v6};
  Collector c6;
  Http1Transport refused(only_v6, [&c6] { c6.wake(); });
  CHECK(refused.submit(1, 1, false, false, request("/", false)));
  c6.wait_for(refused, 1);
  CHECK_EQ(c6.records.size(), 1u);
  if (!c6.records.empty()) CHECK_EQ(c6.records[0].failure, uint8_t(ReplayFailure::kRefused));
}

namespace {

// An http row's request part (no body) as the shadow extractor writes it.
void request_fields(ExchangeRowWriter& w, const std::string& method, const std::string& target, const std::string& host,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  w.num(1).ms(0).str(method).str(target).str(target).str(target).str(host).str("1.1");
  w.u32(static_cast<uint32_t>(headers.size()));
  for (const auto& [n, v] : headers) w.str(n).str(v);
  w.slice("", 0).num(0).flag(false);
}

// An http row with no answer (the transport reads only the request).
std::string http_row(const std::string& method, const std::string& target, const std::string& host,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  ExchangeBatch b;
  ExchangeRowWriter w(b, ExchangeRowKind::kHttp, 1);
  request_fields(w, method, target, host, headers);
  w.flag(false).str("no_response").end();
  return b.meta;
}

}  // namespace

TEST(http1_transport_writes_a_request_from_its_exchange_row) {
  LoopbackServer server;
  Collector c;
  Http1TransportOptions o{"127.0.0.1", server.port(), 2000, 1024, 1000};
  o.head.default_host = "127.0.0.1";
  Http1Transport t(std::move(o), [&c] { c.wake(); });
  // Two rows asking to close (a connection each), then bytes that are no row.
  const std::string rows = http_row("GET", "/r1", "shop", {{"Connection", "close"}}) + http_row("GET", "/r2", "", {{"connection", "Close"}});
  const std::string bad = "not a row at all";
  const std::string bytes = rows + bad;
  const uint32_t first = static_cast<uint32_t>(http_row("GET", "/r1", "shop", {{"Connection", "close"}}).size());
  const ReplaySubmission items[] = {{7, 1, ReplaySubmission::kFromRow, first},
                                    {7, 2, ReplaySubmission::kFromRow, static_cast<uint32_t>(rows.size()) - first},
                                    {7, 3, ReplaySubmission::kFromRow, static_cast<uint32_t>(bad.size())},
                                    {7, 0, ReplaySubmission::kCloseLane, 0}};
  CHECK_EQ(t.submit_batch(items, 4, bytes.data()), 0u);
  c.wait_for(t, 3);
  CHECK_EQ(c.records.size(), 3u);
  for (size_t i = 0; i < c.records.size(); ++i) {
    if (c.records[i].request_id == 3) {
      CHECK_EQ(int(c.records[i].failure), int(ReplayFailure::kError));
      CHECK_EQ(c.bodies[i], "the request's exchange row could not be read");
    } else {
      CHECK_EQ(int(c.records[i].failure), 0);
      CHECK_EQ(c.bodies[i], c.records[i].request_id == 1 ? "/r1" : "/r2");
    }
  }
  CHECK_EQ(server.connections(), 2);
}

namespace {

// An http row with production's answer: 200, Content-Length, `body` (the bytes go to b.data).
std::string http_row_answered(const std::string& target, const std::string& body, ExchangeBatch& b) {
  ExchangeRowWriter w(b, ExchangeRowKind::kHttp, 1);
  request_fields(w, "GET", target, "shop", {});
  w.flag(true).num(200).str("1.1").u32(1).str("Content-Length").str(std::to_string(body.size()));
  w.slice(body.data(), body.size()).num(static_cast<double>(body.size())).flag(false).ms(0).ms(0).ms(0).end();
  return b.meta;
}

}  // namespace

TEST(http1_transport_checks_answers_against_productions) {
  LoopbackServer server;
  Collector c;
  Http1TransportOptions o{"127.0.0.1", server.port(), 2000, 1024, 1000};
  o.same.ignored = {"content-length", "date"};
  Http1Transport t(std::move(o), [&c] { c.wake(); });
  // The server answers each request with its target: /r1 as production did, /r2 not.
  ExchangeBatch same_batch, other_batch;
  const std::string same_row = http_row_answered("/r1", "/r1", same_batch);
  const std::string other_row = http_row_answered("/r2", "/xx", other_batch);
  const std::string unanswered = http_row("GET", "/r3", "shop", {});
  const std::string bytes = same_row + same_batch.data + other_row + other_batch.data + unanswered;
  const uint32_t compare = ReplaySubmission::kFromRow | ReplaySubmission::kCompareAnswer;
  const ReplaySubmission items[] = {{3, 1, compare, static_cast<uint32_t>(same_row.size() + same_batch.data.size())},
                                    {3, 2, compare, static_cast<uint32_t>(other_row.size() + other_batch.data.size())},
                                    {3, 3, compare, static_cast<uint32_t>(unanswered.size())},
                                    {3, 0, ReplaySubmission::kCloseLane, 0}};
  CHECK_EQ(t.submit_batch(items, 4, bytes.data()), 0u);
  c.wait_for(t, 3);
  CHECK_EQ(c.records.size(), 3u);
  for (size_t i = 0; i < c.records.size(); ++i) {
    const ReplayCompletionRecord& r = c.records[i];
    if (r.request_id == 1) {
      // The same: neither headers nor body handed over.
      CHECK_EQ(int(r.flags), int(ReplayCompletionRecord::kSameAsProduction));
      CHECK_EQ(r.headers_len + r.body_len, 0u);
      CHECK_EQ(r.status, 200);
      CHECK_EQ(r.body_bytes, 3.0);
    } else if (r.request_id == 2) {
      CHECK_EQ(int(r.flags), 0);
      CHECK_EQ(c.bodies[i], "/r2");
    } else {
      // Nothing to compare with: refused before anything is sent.
      CHECK_EQ(int(r.failure), int(ReplayFailure::kError));
    }
  }
}
