// HTTP/2 test traffic: frames built by hand around header blocks compressed by nghttp2's own
// HPACK deflater (a real encoder, with its dynamic table), one deflater per direction.
#pragma once

#include <nghttp2/nghttp2.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace h2test {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const uint32_t n = static_cast<uint32_t>(payload.size());
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>(stream >> 24);
  f += static_cast<char>(stream >> 16);
  f += static_cast<char>(stream >> 8);
  f += static_cast<char>(stream);
  return f + payload;
}

inline std::string settings(std::vector<std::pair<uint16_t, uint32_t>> values, bool ack = false) {
  std::string p;
  for (auto [id, v] : values) {
    p += static_cast<char>(id >> 8);
    p += static_cast<char>(id);
    for (int s = 24; s >= 0; s -= 8) p += static_cast<char>(v >> s);
  }
  return frame(4, ack ? 1 : 0, 0, p);
}

class Encoder {
 public:
  // max_table: the most the encoder will ever use (SETTINGS may allow it less).
  explicit Encoder(size_t max_table = 4096) {
    if (nghttp2_hd_deflate_new(&d_, max_table) != 0) throw std::runtime_error("nghttp2_hd_deflate_new");
  }
  ~Encoder() { nghttp2_hd_deflate_del(d_); }
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  void table_size(size_t n) { nghttp2_hd_deflate_change_table_size(d_, n); }
  std::string block(const Headers& h) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [k, v] : h) {
      nv.push_back({(uint8_t*)k.data(), (uint8_t*)v.data(), k.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string out(nghttp2_hd_deflate_bound(d_, nv.data(), nv.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(d_, (uint8_t*)out.data(), out.size(), nv.data(), nv.size());
    if (n < 0) throw std::runtime_error("nghttp2_hd_deflate_hd");
    out.resize(static_cast<size_t>(n));
    return out;
  }
  // One HEADERS frame (END_HEADERS) carrying the whole block.
  std::string headers(uint32_t stream, const Headers& h, bool end_stream) {
    return frame(1, 0x4 | (end_stream ? 1 : 0), stream, block(h));
  }

 private:
  nghttp2_hd_deflater* d_ = nullptr;
};

inline const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace h2test
