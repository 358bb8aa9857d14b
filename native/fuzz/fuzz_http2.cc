// libFuzzer target: Http2Parser on a client and a server byte stream taken from the input
// (the client's optionally behind a real preface, and header blocks optionally compressed by
// nghttp2's deflater from input strings so HPACK decodes and the stream logic runs), fed whole
// and cut into chunks: the same streams either way, every offset inside what was fed. With
// content capture on (an input bit) the fields, trailers and DATA kept must be the same too,
// the bodies within their caps.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocols/http2.h"

namespace {

constexpr size_t kMaxBody[2] = {16, 32};

std::string content(const podspan::Http1Content& c) {
  std::string out;
  for (const podspan::Http1HeaderSpan& h : c.headers) out.append(c.name(h)).append("=").append(c.value(h)).append(";");
  return out + "|" + c.body + (c.body_truncated ? "+" : "");
}

struct Seen : podspan::Http2Parser::Events {
  std::vector<std::string> streams;
  uint64_t fed[2] = {0, 0};
  void on_stream(const podspan::Http2Stream& s, bool complete) override {
    if ((s.request_bytes && s.request_end > fed[0] && !s.upgraded) || (s.response_seen && s.response_end > fed[1])) __builtin_trap();
    if (s.response_seen && s.response_end <= s.response_start) __builtin_trap();
    if (s.content[0].body.size() > kMaxBody[0] || s.content[1].body.size() > kMaxBody[1]) __builtin_trap();
    streams.push_back(content(s.content[0]) + content(s.content[1]) + content(s.trailers[0]) + content(s.trailers[1]) + " " +std::to_string(s.id) + " " + s.method + " " + s.path + " " + s.authority + " " + std::to_string(s.status) +
                      " " + std::to_string(s.grpc_status) + " " + std::to_string(s.request_bytes) + " " +
                      std::to_string(s.response_bytes) + (complete ? " c" : "") + (s.reset ? " r" : ""));
  }
};

// Turns the input into frames: each [type, flags, stream, len] + payload; HEADERS and
// CONTINUATION payloads of type 1 with bit 0x40 of flags are replaced by a deflated block of
// name/value pairs cut from the payload.
std::string frames(const uint8_t* d, size_t n, nghttp2_hd_deflater* def) {
  std::string out;
  size_t i = 0;
  while (i + 4 <= n) {
    const uint8_t type = d[i] % 10, flags = d[i + 1], stream = d[i + 2] % 8;
    size_t len = std::min<size_t>(d[i + 3], n - i - 4);
    std::string payload(reinterpret_cast<const char*>(d + i + 4), len);
    i += 4 + len;
    if (type == 1 && (flags & 0x40) && def != nullptr) {
      static const char* names[] = {":method", ":path", ":authority", ":status", "content-type", "grpc-status", "x"};
      std::vector<nghttp2_nv> nv;
      std::vector<std::string> keep;
      keep.reserve(payload.size());
      for (size_t k = 0; k + 1 < payload.size(); k += 2) {
        keep.emplace_back(payload.substr(k + 1, 1 + static_cast<uint8_t>(payload[k]) % 3));
        const char* name = names[static_cast<uint8_t>(payload[k]) % 7];
        nv.push_back({(uint8_t*)name, (uint8_t*)keep.back().data(), std::char_traits<char>::length(name), keep.back().size(),
                      NGHTTP2_NV_FLAG_NONE});
      }
      std::string block(nghttp2_hd_deflate_bound(def, nv.data(), nv.size()), '\0');
      const ssize_t b = nghttp2_hd_deflate_hd(def, (uint8_t*)block.data(), block.size(), nv.data(), nv.size());
      payload = b < 0 ? std::string() : block.substr(0, static_cast<size_t>(b));
    }
    const uint32_t l = static_cast<uint32_t>(payload.size());
    const char head[9] = {char(l >> 16), char(l >> 8), char(l), char(type), char(flags & ~0x40), 0, 0, 0, char(stream)};
    out.append(head, 9);
    out += payload;
  }
  return out;
}

// The client's bytes, then the server's (as a capture orders a request and its answer), each
// in one piece or cut into chunks.
void run(const std::string (&dirs)[2], bool cut, bool capture, Seen& seen, podspan::Http2Stats& stats) {
  podspan::Http2Parser p(seen, 4);
  p.capture_content(capture, kMaxBody[0], kMaxBody[1]);
  p.start(0, 0);
  p.start(1, 0);
  uint32_t lcg = static_cast<uint32_t>(dirs[0].size() * 31 + dirs[1].size());
  for (int d = 0; d < 2; ++d) {
    for (size_t at = 0; at < dirs[d].size();) {
      size_t n = dirs[d].size() - at;
      if (cut) {
        lcg = lcg * 1103515245u + 12345u;
        n = std::min<size_t>(n, 1 + (lcg >> 16) % 40);
      }
      seen.fed[d] = at + n;
      p.feed(d, at, reinterpret_cast<const uint8_t*>(dirs[d].data()) + at, n, at);
      at += n;
    }
  }
  p.close();
  stats = p.stats();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0];
  const size_t split = std::min<size_t>(size - 3, data[1] * 4);
  const uint8_t* rest = data + 3;
  const size_t n = size - 3;
  std::string dirs[2];
  if (mode & 2) {
    nghttp2_hd_deflater* def[2] = {nullptr, nullptr};
    for (auto& d : def) nghttp2_hd_deflate_new(&d, 4096);
    dirs[0] = frames(rest, split, def[0]);
    dirs[1] = frames(rest + split, n - split, def[1]);
    for (auto* d : def) nghttp2_hd_deflate_del(d);
  } else {
    dirs[0].assign(reinterpret_cast<const char*>(rest), split);
    dirs[1].assign(reinterpret_cast<const char*>(rest + split), n - split);
  }
  if (mode & 1) dirs[0].insert(0, podspan::Http2Parser::kPreface, podspan::Http2Parser::kPrefaceLen);
  Seen whole, cut;
  podspan::Http2Stats a, b;
  const bool capture = (mode & 4) != 0;
  run(dirs, false, capture, whole, a);
  run(dirs, true, capture, cut, b);
  if (whole.streams != cut.streams || a.frames != b.frames || a.errors != b.errors || a.header_blocks != b.header_blocks) {
    __builtin_trap();
  }
  return 0;
}
