// Real traffic, judged by tshark: every HTTP request tshark finds in the third-party corpus
// (PODSPAN_CORPUS, or ../shared/corpus) must be among AppAnalyzer's records of the same file,
// with the same method and path, and the same status where tshark pairs a response with it.
// Skipped (with a line saying so) when the corpus or tshark is missing.
#include <dirent.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/app_analyzer.h"
#include "check.h"
#include "judge_cache.h"
#include "kept_records.h"
#include "common/errors.h"
#include "decode/decode.h"
#include "pcap/file_reader.h"
#include "reassembly/tcp_pipeline.h"

using namespace podspan;

namespace {

using Records = podspan_test::KeptRecords;

// The reassembler's events straight into the analyser (side[0], the first sender, as client).
struct Feed : StreamSink {
  AppAnalyzer& app;
  explicit Feed(AppAnalyzer& a) : app(a) {}
  void on_open(const StreamInfo& s) override { app.on_open(s); }
  void on_data(const StreamInfo& s, int dir, uint64_t off, const uint8_t* d, uint32_t n, uint64_t ts) override {
    app.on_data(s, dir, off, d, n, ts);
  }
  void on_gap(const StreamInfo& s, int dir, uint64_t off, uint64_t n) override { app.on_gap(s, dir, off, n); }
  void on_close(const StreamInfo& s, CloseReason r, uint64_t ts) override { app.on_close(s, r, ts); }
};

struct Request {
  std::string method, path;
  int status = -1;  // -1: tshark paired no response with it (or several requests share its frame)
  double time = -1;  // http.time: request to the frame completing its response, in seconds
};

// Where our status differs from tshark's for a reason outside the parsers, named here. A listed
// request may agree (it is then reported), one not listed may not differ.
struct KnownDifference {
  const char* file;
  const char* path;
  const char* why;
};
const KnownDifference kKnownDifferences[] = {
    {"suricata__syn-retransmit-with-ts.pcap", "/malware/ppt/mal/51f14eb6c874686e5f593132cf0f742d.ppt",
     "the reassembler opens two streams for this connection at its retransmitted SYN (the request in one, the response in the "
     "other), so the response has no request to answer"},
};


template <size_t N>
bool listed(const KnownDifference (&list)[N], const std::string& file, const std::string& path) {
  for (const KnownDifference& k : list) {
    if (file == k.file && path == k.path) return true;
  }
  return false;
}

bool known_difference(const std::string& file, const std::string& path) { return listed(kKnownDifferences, file, path); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    const size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return out;
    i = j + 1;
  }
}

// tshark's requests of one file, in frame order. Several values of a field in one frame are
// joined by \x1f (a URI may hold commas).
bool tshark_requests(const std::string& file, std::vector<Request>& out) {
  const std::string cmd = "tshark -r '" + file +
                          "' -Y 'tcp && (http.request || http.response)' -T fields -E separator=/t -E 'aggregator=\x1f' "
                          "-e frame.number -e http.request.method -e http.request.uri -e http.request_in -e http.response.code -e http.time 2>/dev/null";
  std::string text;
  const bool ok = podspan_test::judge_output(cmd, file, text);
  std::map<std::string, std::vector<size_t>> by_frame;  // frame number -> its requests
  struct Response {
    std::string request_frame, code, time;
  };
  std::vector<Response> responses;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    while (!l.empty() && l.back() == '\r') l.pop_back();
    const std::vector<std::string> f = split(l, '\t');
    if (f.size() < 5) continue;
    if (!f[1].empty()) {
      const std::vector<std::string> methods = split(f[1], '\x1f'), uris = split(f[2], '\x1f');
      for (size_t i = 0; i < methods.size() && i < uris.size(); ++i) {
        Request r;
        r.method = methods[i];
        http_path(uris[i], r.path);
        by_frame[f[0]].push_back(out.size());
        out.push_back(r);
      }
    }
    if (!f[4].empty()) {
      const std::vector<std::string> in = split(f[3], '\x1f'), codes = split(f[4], '\x1f');
      const std::vector<std::string> times = f.size() > 5 ? split(f[5], '\x1f') : std::vector<std::string>();
      for (size_t i = 0; i < in.size() && i < codes.size(); ++i) responses.push_back({in[i], codes[i], i < times.size() ? times[i] : ""});
    }
  }
  for (const Response& resp : responses) {
    auto it = by_frame.find(resp.request_frame);
    if (it == by_frame.end() || it->second.size() != 1) continue;
    out[it->second[0]].status = std::atoi(resp.code.c_str());
    if (!resp.time.empty()) out[it->second[0]].time = std::atof(resp.time.c_str());
  }
  return ok;
}

// The corpus's capture files, when the corpus and tshark are both there; else says which is
// missing in one line.
bool corpus_with_tshark(const char* what, std::string& dir, std::vector<std::string>& files) {
  const char* env = std::getenv("PODSPAN_CORPUS");
  dir = env ? env : "../shared/corpus";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    std::printf("  %s: skipped, no corpus at %s (set PODSPAN_CORPUS)\n", what, dir.c_str());
    return false;
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.find(".pcap") != std::string::npos) files.push_back(name);
  }
  closedir(d);
  if (std::system("tshark -v >/dev/null 2>&1") != 0) {
    std::printf("  %s: skipped, tshark not installed\n", what);
    return false;
  }
  return true;
}

void analyse(const std::string& file, Records& out, uint64_t& payload_bytes) {
  std::unique_ptr<FileReader> r;
  try {
    r = FileReader::open(file);
  } catch (const CaptureError&) {
    return;
  }
  AppAnalyzer app(out);
  Feed feed(app);
  TcpPipeline pipeline(ReassemblyConfig{}, DefragConfig{}, feed);
  size_t interfaces = 0;
  Batch b;
  for (;;) {
    const ReadStatus st = r->read(b, 256, 1 << 20);
    for (; interfaces < r->interfaces().size(); ++interfaces) pipeline.add_interface(r->interfaces()[interfaces].linktype);
    for (const auto& rec : b.records) {
      pipeline.add(rec, b.bytes(rec));
      // UDP DNS straight from the decoder (the analysis pipeline's datagram path is not this test's).
      Decoded d;
      const uint16_t linktype = r->interfaces()[rec.iface].linktype;
      if (decode_frame(b.bytes(rec), rec.caplen, linktype, d) != DecodeResult::kOk || d.protocol != 17 || d.fragment ||
          (d.sport != 53 && d.dport != 53) || d.captured_payload < d.payload_len) {
        continue;
      }
      RecordEndpoints e;
      e.ip_version = d.ip_version;
      std::memcpy(e.client, d.src, 16);
      std::memcpy(e.server, d.dst, 16);
      e.client_port = d.sport;
      e.server_port = d.dport;
      app.on_udp(e, b.bytes(rec) + d.payload_offset, d.payload_len, rec.ts_ns);
    }
    if (st != ReadStatus::kOk) break;
  }
  pipeline.finish();
  app.finish(0);
  payload_bytes = pipeline.stats().reassembly.bytes;
}

}  // namespace

TEST(app_h2c_from_real_clients) {
  // fixtures/h2c-curl-go.pcap (scripts/make-h2c-fixture.sh): curl against Go's h2c server.
  std::string root = __FILE__;
  root = root.substr(0, root.rfind("/native/tests/"));
  Records ours;
  uint64_t payload = 0;
  analyse(root + "/fixtures/h2c-curl-go.pcap", ours, payload);
  struct Expected {
    const char* version;
    uint32_t stream;
    const char* method;
    const char* path;
    int status, grpc_status;
  };
  // As tshark decodes the same file (http2.streamid, http2.headers.method/path/status; the
  // upgraded stream 1 answers the HTTP/1 request that asked for the Upgrade).
  const Expected expected[] = {
      {"2", 1, "GET", "/items/1", 200, -1},       // h2c Upgrade: stream 1 is the HTTP/1.1 request
      {"2", 3, "GET", "/items/2", 200, -1},       // ... and the next request on the same connection
      {"2", 1, "GET", "/b/2", 200, -1},           // prior knowledge
      {"2", 1, "POST", "/shop.Cart/Add", 200, 5},  // gRPC-shaped: grpc-status from the trailers
      {"1.1", 0, "HEAD", "/head/3", 200, -1},
  };
  CHECK_EQ(ours.http_records.size(), sizeof(expected) / sizeof(expected[0]));
  for (size_t i = 0; i < ours.http_records.size() && i < sizeof(expected) / sizeof(expected[0]); ++i) {
    const HttpRecord& r = ours.http_records[i];
    const Expected& e = expected[i];
    CHECK_EQ(r.version, e.version);
    CHECK_EQ(r.stream_id, e.stream);
    CHECK_EQ(r.method, e.method);
    CHECK_EQ(r.path, e.path);
    CHECK_EQ(r.status, e.status);
    CHECK_EQ(r.grpc_status, e.grpc_status);
    CHECK_EQ(r.host, "127.0.0.1:8080");
    CHECK(r.note.empty());
    CHECK(r.latency != kUnknownNs && r.duration != kUnknownNs && r.latency <= r.duration);
  }
}

TEST(app_corpus_http_requests_match_tshark) {
  std::string dir;
  std::vector<std::string> files;
  if (!corpus_with_tshark("app corpus", dir, files)) return;
  size_t tshark_total = 0, found = 0, status_compared = 0, status_agreed = 0, status_known_differences = 0;
  size_t files_with_http = 0, ours_total = 0, time_compared = 0, time_equal = 0;
  struct Judged {
    std::string name;
    Records ours;
    std::vector<Request> theirs;
  };
  std::vector<Judged> judged;
  for (const std::string& name : files) {
    Judged j{name, {}, {}};
    uint64_t payload = 0;
    analyse(dir + "/" + name, j.ours, payload);
    if (payload == 0) continue;  // no TCP payload reassembled: tshark finds no HTTP either
    judged.push_back(std::move(j));
  }
  // tshark is nearly all of this test's time (~14 s of calls one after another).
  podspan_test::judge_in_parallel(judged.size(), [&](size_t i) { tshark_requests(dir + "/" + judged[i].name, judged[i].theirs); });
  for (const Judged& j : judged) {
    const std::string& name = j.name;
    const Records& ours = j.ours;
    const std::vector<Request>& theirs = j.theirs;
    if (theirs.empty()) continue;
    ++files_with_http;
    tshark_total += theirs.size();
    ours_total += ours.http_records.size();
    std::vector<bool> used(ours.http_records.size(), false);
    for (const Request& t : theirs) {
      // The same method and path, not matched yet; one with the same status first.
      long best = -1;
      for (size_t i = 0; i < ours.http_records.size(); ++i) {
        const HttpRecord& o = ours.http_records[i];
        if (used[i] || o.method != t.method || o.path != t.path) continue;
        if (best < 0 || o.status == t.status) best = static_cast<long>(i);
        if (o.status == t.status) break;
      }
      if (best < 0) {
        std::fprintf(stderr, "  %s: tshark's %s %s (status %d) not found\n", name.c_str(), t.method.c_str(), t.path.c_str(), t.status);
        CHECK(best >= 0);
        continue;
      }
      used[static_cast<size_t>(best)] = true;
      ++found;
      if (t.status >= 0) {
        ++status_compared;
        const HttpRecord& o = ours.http_records[static_cast<size_t>(best)];
        const int ours_status = o.status;
        if (ours_status == t.status) {
          ++status_agreed;
          // tshark's http.time runs from the request's frame to the one completing the response:
          // our duration (request's last byte to response's last byte).
          if (t.time >= 0 && o.duration != kUnknownNs) {
            ++time_compared;
            const double ours_s = static_cast<double>(o.duration) / 1e9;
            if (std::abs(ours_s - t.time) < 1e-6) {
              ++time_equal;
            } else {
              CHECK(std::abs(ours_s - t.time) < 1e-6);
              std::fprintf(stderr, "  %s: %s %s: duration %.9f, tshark http.time %.9f\n", name.c_str(), t.method.c_str(),
                           t.path.c_str(), ours_s, t.time);
            }
          }
          if (known_difference(name, t.path)) std::printf("  %s %s: a known difference agrees now\n", name.c_str(), t.path.c_str());
        } else if (known_difference(name, t.path)) {
          ++status_known_differences;
        } else {
          std::fprintf(stderr, "  %s: %s %s: tshark status %d, ours %d (%s)\n", name.c_str(), t.method.c_str(), t.path.c_str(),
                       t.status, ours_status, o.note.c_str());
          CHECK_EQ(ours_status, t.status);
        }
      }
    }
  }
  std::printf(
      "  app corpus: %zu files with HTTP over TCP; tshark %zu requests, found %zu; statuses compared %zu, equal %zu, "
      "known differences %zu; our records %zu; duration equal to http.time %zu of %zu\n",
      files_with_http, tshark_total, found, status_compared, status_agreed, status_known_differences, ours_total, time_equal,
      time_compared);
  CHECK(tshark_total >= 80);
  CHECK_EQ(found, tshark_total);
  CHECK_EQ(status_agreed + status_known_differences, status_compared);
  CHECK_EQ(time_equal, time_compared);
  CHECK(time_compared >= 60);
}

namespace {

struct DnsAnswer {
  std::string id, name;
  int rcode = 0, answers = 0;
  double time = -1;  // dns.time: seconds from the query
  bool used = false;
};

// tshark's DNS responses over UDP in one file.
void tshark_dns(const std::string& file, std::vector<DnsAnswer>& out) {
  const std::string cmd = "tshark -r '" + file +
                          "' -Y 'udp && dns.flags.response == 1' -T fields -E separator=/t -E 'aggregator=\x1f' "
                          "-e dns.id -e dns.qry.name -e dns.flags.rcode -e dns.count.answers -e dns.time 2>/dev/null";
  std::string text;
  podspan_test::judge_output(cmd, file, text);
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    while (!l.empty() && l.back() == '\r') l.pop_back();
    const std::vector<std::string> f = split(l, '\t');
    if (f.size() < 5 || f[0].find('\x1f') != std::string::npos) continue;  // several DNS messages in one frame (tunnels)
    DnsAnswer a;
    a.id = f[0];
    a.name = split(f[1], '\x1f')[0];
    a.rcode = std::atoi(f[2].c_str());
    a.answers = std::atoi(f[3].c_str());
    a.time = f[4].empty() ? -1 : std::atof(f[4].c_str());
    out.push_back(a);
  }
}

}  // namespace

TEST(app_corpus_dns_answers_match_tshark) {
  // Every UDP DNS query we pair with its answer, tshark pairs too: the same rcode and answer
  // count, and latency equal to tshark's dns.time to the microsecond.
  std::string dir;
  std::vector<std::string> files;
  if (!corpus_with_tshark("app corpus dns", dir, files)) return;
  size_t answered = 0, matched = 0, latency_equal = 0, files_with_dns = 0;
  for (const std::string& name : files) {
    const std::string path = dir + "/" + name;
    Records ours;
    uint64_t payload = 0;
    analyse(path, ours, payload);
    size_t ours_answered = 0;
    for (const DnsRecord& r : ours.dns_records) ours_answered += r.proto == "udp" && r.rcode >= 0;
    if (ours_answered == 0) continue;
    ++files_with_dns;
    std::vector<DnsAnswer> theirs;
    tshark_dns(path, theirs);
    for (const DnsRecord& r : ours.dns_records) {
      if (r.proto != "udp" || r.rcode < 0) continue;
      ++answered;
      const std::string id = "0x" + [&] {
        char b[8];
        std::snprintf(b, sizeof(b), "%04x", r.trans_id);
        return std::string(b);
      }();
      DnsAnswer* hit = nullptr;
      for (DnsAnswer& a : theirs) {
        if (!a.used && a.id == id && a.name == r.query) {
          hit = &a;
          break;
        }
      }
      if (hit == nullptr) {
        std::fprintf(stderr, "  %s: our answer to %s %s is not tshark's\n", name.c_str(), id.c_str(), r.query.c_str());
        CHECK(hit != nullptr);
        continue;
      }
      hit->used = true;
      ++matched;
      CHECK_EQ(r.rcode, hit->rcode);
      CHECK_EQ(int(r.answers), hit->answers);
      const double ours_s = static_cast<double>(r.latency) / 1e9;
      if (hit->time >= 0 && std::abs(ours_s - hit->time) < 1e-6) {
        ++latency_equal;
      } else {
        std::fprintf(stderr, "  %s: %s latency %.9f, tshark dns.time %.9f\n", name.c_str(), r.query.c_str(), ours_s, hit->time);
        CHECK(false);
      }
    }
  }
  std::printf("  app corpus dns: %zu files; %zu UDP queries answered, %zu paired alike by tshark, %zu with equal latency\n",
              files_with_dns, answered, matched, latency_equal);
  CHECK(answered >= 10);
  CHECK_EQ(matched, answered);
  CHECK_EQ(latency_equal, answered);
}
