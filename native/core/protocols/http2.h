// HTTP/2 of one TCP connection, both directions: the client preface, frames (9-byte headers,
// padding and priority flags), header blocks across CONTINUATION decoded with nghttp2's HPACK
// inflater (one per direction, its table size following the peer's SETTINGS), and per stream
// the request's pseudo-headers, the response's :status, gRPC's grpc-status, byte counts, times
// and END_STREAM. DATA payload is counted, never copied.
//
// HPACK state cannot be recovered midway: a connection must be parsed from its first byte (the
// preface, or the 101 of an h2c Upgrade). looks_like_frames() lets a caller recognise one picked
// up midstream, to count it rather than decode it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocols/http1.h"  // Http1Content: what content capture keeps of a message

struct nghttp2_hd_inflater;

namespace podspan {

struct Http2Stream {
  uint32_t id = 0;
  // Request (client to server): pseudo-headers and content-type of its first header block.
  std::string method, path, authority, content_type;  // path as sent (with the query)
  // Response (server to client): the final :status (1xx skipped), grpc-status from the trailers
  // (or a trailers-only response), -1 when absent.
  int status = 0;
  int grpc_status = -1;
  bool truncated = false;  // a value was longer than Http2Parser::kMaxValue
  // Frame bytes of the stream's HEADERS, CONTINUATION and DATA frames (9-byte headers included).
  uint64_t request_bytes = 0, response_bytes = 0;
  uint64_t request_data = 0, response_data = 0;  // DATA payload (padding excluded)
  // Offsets in each direction's stream: the first byte of the first frame and just past the
  // last frame of the stream (frames of other streams may lie between).
  uint64_t request_start = 0, request_end = 0, response_start = 0, response_end = 0;
  uint64_t request_first_ts = 0, request_last_ts = 0, response_first_ts = 0, response_last_ts = 0;
  bool request_ended = false, response_ended = false;  // END_STREAM seen
  bool response_seen = false;                          // any response frame
  bool reset = false;                                  // RST_STREAM (either side)
  bool upgraded = false;                               // stream 1 of an h2c Upgrade: the request was HTTP/1
  // Content capture only (Http2Parser::capture_content), by direction (0: request, 1: response):
  // the header fields of the first block (pseudo-headers included; a response's final one, 1xx
  // skipped) and DATA payload up to a cap; trailers: the fields of a later block.
  Http1Content content[2], trailers[2];
};

struct Http2Stats {
  uint64_t frames = 0, header_blocks = 0, streams = 0;
  uint64_t streams_dropped = 0;  // over the concurrent-stream cap: not tracked
  uint64_t errors = 0;           // a direction that stopped on broken framing or HPACK
  uint64_t gaps = 0;             // a direction that stopped on missing bytes
};

class Http2Parser {
 public:
  static constexpr size_t kMaxValue = 4096;
  static constexpr size_t kMaxHeaderBlock = 256 * 1024;
  static constexpr uint32_t kDefaultMaxStreams = 256;
  static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  static constexpr size_t kPrefaceLen = 24;

  class Events {
   public:
    virtual ~Events() = default;
    // The request's first header block is decoded (method, path, authority set).
    virtual void on_request(const Http2Stream& s) {}
    // The stream is over: both sides sent END_STREAM, or it was reset, or the connection ended
    // (`complete` false: see the flags for what was seen).
    virtual void on_stream(const Http2Stream& s, bool complete) = 0;
  };

  explicit Http2Parser(Events& events, uint32_t max_streams = kDefaultMaxStreams);
  ~Http2Parser();
  Http2Parser(const Http2Parser&) = delete;
  Http2Parser& operator=(const Http2Parser&) = delete;

  // Keep header fields, trailers and DATA payload of each stream in Http2Stream::content and
  // trailers (off by default: analytics pays one branch per field and per DATA chunk).
  void capture_content(bool on, size_t max_request_body, size_t max_response_body) {
    capture_ = on;
    max_body_[0] = max_request_body;
    max_body_[1] = max_response_body;
  }
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;  // content capture: names and values per block

  // Starts over on a new connection. Then start(0, off) where the client's preface begins and
  // start(1, off) where the server's frames begin (the first byte for prior knowledge; after the
  // 101 for an Upgrade).
  void reset();
  void start(int dir, uint64_t offset);
  // h2c Upgrade: stream 1 is the HTTP/1 request that asked for it, half-closed from the client
  // (returned, for a caller with content capture to fill in its request; null over the cap).
  Http2Stream* upgraded_request(const std::string& method, const std::string& path, const std::string& authority,
                        const std::string& content_type, uint64_t request_bytes, uint64_t first_ts, uint64_t last_ts);
  // dir 0: client to server, 1: server to client. Bytes before start() are ignored.
  void feed(int dir, uint64_t offset, const uint8_t* data, size_t len, uint64_t ts);
  void gap(int dir);
  // The connection ended: every stream still open is reported incomplete.
  void close();

  bool active(int dir) const { return dirs_[dir].phase != Phase::kOff && dirs_[dir].phase != Phase::kStopped; }
  bool stopped(int dir) const { return dirs_[dir].phase == Phase::kStopped; }
  const Http2Stats& stats() const { return stats_; }

  // Do these bytes (the start of a direction) parse as HTTP/2 frames (not the preface)? A
  // heuristic for connections picked up midstream: every frame header in `data` must be
  // plausible, and at least one complete.
  static bool looks_like_frames(const uint8_t* data, size_t len);
  static bool starts_with_preface(const uint8_t* data, size_t len);

 private:
  enum class Phase : uint8_t { kOff, kPreface, kHeader, kPayload, kStopped };
  struct Dir {
    Phase phase = Phase::kOff;
    uint64_t start = 0;        // where parsing begins (start())
    size_t preface_have = 0;
    uint8_t head[9];
    size_t head_have = 0;
    uint64_t frame_start = 0, frame_ts = 0;
    uint32_t length = 0, stream = 0;
    uint8_t type = 0, flags = 0;
    uint32_t payload_have = 0;
    bool keep_payload = false;
    uint8_t pad_length = 0;  // DATA: the first payload byte (the pad length when PADDED)
    std::string payload;  // the frame's payload when it is needed (not DATA)
    std::string block;    // a header block being assembled across CONTINUATION
    bool in_block = false;
    uint32_t block_stream = 0;
    uint8_t block_flags = 0;   // the HEADERS frame's flags (END_STREAM)
    bool block_is_push = false;
    uint64_t block_start = 0, block_ts = 0, block_bytes = 0;  // its HEADERS frame's start, all its frames' bytes
    nghttp2_hd_inflater* inflater = nullptr;
  };

  void stop(Dir& d, bool gap);
  void frame_header(int dir);
  void frame_done(int dir, uint64_t end, uint64_t ts);
  void header_block_done(int dir, uint64_t end, uint64_t ts);
  void settings(int dir, const std::string& payload);
  Http2Stream* find(uint32_t id);
  Http2Stream* open_stream(uint32_t id);
  // Frames of `s` from `start` (at first_ts) to `end` (at ts), `bytes` long in all.
  void count_frames(int dir, Http2Stream& s, uint64_t start, uint64_t first_ts, uint64_t bytes, uint64_t end, uint64_t ts);
  void end_if_done(Http2Stream& s);
  void release(Http2Stream& s, bool complete);
  void capture_data(int dir, const uint8_t* at, size_t n);

  Events& events_;
  uint32_t max_streams_;
  Dir dirs_[2];
  // Streams in use first (live_ of them); entries keep their strings' capacity when reused.
  std::vector<Http2Stream> streams_;
  size_t live_ = 0;
  uint32_t highest_client_stream_ = 0;
  Http2Stats stats_;
  bool capture_ = false;
  size_t max_body_[2] = {0, 0};
};

}  // namespace podspan
