#include "protocols/http2.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>

namespace podspan {

namespace {

enum FrameType : uint8_t {
  kData = 0, kHeaders = 1, kPriority = 2, kRstStream = 3, kSettings = 4,
  kPushPromise = 5, kPing = 6, kGoaway = 7, kWindowUpdate = 8, kContinuation = 9,
};
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriorityFlag = 0x20, kAck = 0x1;
constexpr uint32_t kSettingsHeaderTableSize = 1;
constexpr size_t kMaxSettingsPayload = 64 * 1024;

uint32_t be24(const uint8_t* p) { return (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2]; }
uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

void set_capped(std::string& s, const uint8_t* v, size_t n, bool& truncated) {
  if (n > Http2Parser::kMaxValue) truncated = true;
  s.assign(reinterpret_cast<const char*>(v), std::min(n, Http2Parser::kMaxValue));
}

bool name_is(const nghttp2_nv& nv, const char* name) {
  const size_t n = std::strlen(name);
  return nv.namelen == n && std::memcmp(nv.name, name, n) == 0;
}

int parse_int(const uint8_t* v, size_t n) {
  if (n == 0 || n > 9) return -1;
  int x = 0;
  for (size_t i = 0; i < n; ++i) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

}  // namespace

constexpr char Http2Parser::kPreface[];

Http2Parser::Http2Parser(Events& events, uint32_t max_streams) : events_(events), max_streams_(max_streams) {
  reset();
}

Http2Parser::~Http2Parser() {
  for (Dir& d : dirs_) {
    if (d.inflater != nullptr) nghttp2_hd_inflate_del(d.inflater);
  }
}

void Http2Parser::reset() {
  for (Dir& d : dirs_) {
    d.phase = Phase::kOff;
    d.start = 0;
    d.preface_have = d.head_have = 0;
    d.payload_have = 0;
    d.payload.clear();
    d.block.clear();
    d.in_block = false;
    // A fresh HPACK context (the old one holds the last connection's dynamic table).
    if (d.inflater != nullptr) nghttp2_hd_inflate_del(d.inflater);
    d.inflater = nullptr;
    if (nghttp2_hd_inflate_new(&d.inflater) != 0) d.inflater = nullptr;
  }
  live_ = 0;
  highest_client_stream_ = 0;
}

void Http2Parser::start(int dir, uint64_t offset) {
  Dir& d = dirs_[dir];
  if (d.inflater == nullptr) {
    stop(d, false);
    return;
  }
  d.phase = dir == 0 ? Phase::kPreface : Phase::kHeader;
  d.start = offset;
}

bool Http2Parser::starts_with_preface(const uint8_t* data, size_t len) {
  const size_t n = std::min(len, kPrefaceLen);
  return n >= 3 && std::memcmp(data, kPreface, n) == 0;
}

bool Http2Parser::looks_like_frames(const uint8_t* data, size_t len) {
  // Flags each frame type may carry (RFC 9113 section 6).
  static const uint8_t allowed_flags[10] = {0x09, 0x2d, 0x00, 0x00, 0x01, 0x0c, 0x01, 0x00, 0x00, 0x04};
  size_t i = 0;
  int frames = 0;
  while (i + 9 <= len) {
    const uint32_t length = be24(data + i);
    const uint8_t type = data[i + 3], flags = data[i + 4];
    const uint32_t raw_stream = be32(data + i + 5);
    const uint32_t stream = raw_stream & 0x7fffffffu;
    if (type > kContinuation || (raw_stream & 0x80000000u) || length > 16384) return false;
    if ((flags & ~allowed_flags[type]) != 0) return false;
    const bool connection_level = type == kSettings || type == kPing || type == kGoaway;
    if (connection_level != (stream == 0) && type != kWindowUpdate) return false;
    if ((type == kSettings && length % 6 != 0) || (type == kPing && length != 8) || (type == kWindowUpdate && length != 4) ||
        (type == kRstStream && length != 4) || (type == kPriority && length != 5) || (type == kGoaway && length < 8)) {
      return false;
    }
    ++frames;
    i += 9 + length;
  }
  return frames > 0;
}

void Http2Parser::stop(Dir& d, bool gap) {
  if (d.phase == Phase::kStopped) return;
  if (d.phase != Phase::kOff) ++(gap ? stats_.gaps : stats_.errors);
  d.phase = Phase::kStopped;
}

void Http2Parser::gap(int dir) {
  Dir& d = dirs_[dir];
  if (d.phase == Phase::kOff) {
    d.phase = Phase::kStopped;  // it can never start cleanly now
    return;
  }
  stop(d, true);
}

Http2Stream* Http2Parser::find(uint32_t id) {
  for (size_t i = 0; i < live_; ++i) {
    if (streams_[i].id == id) return &streams_[i];
  }
  return nullptr;
}

Http2Stream* Http2Parser::open_stream(uint32_t id) {
  if (live_ >= max_streams_) {
    ++stats_.streams_dropped;
    return nullptr;
  }
  if (live_ == streams_.size()) streams_.emplace_back();
  Http2Stream& s = streams_[live_++];
  s.id = id;
  s.method.clear();
  s.path.clear();
  s.authority.clear();
  s.content_type.clear();
  s.status = 0;
  s.grpc_status = -1;
  s.truncated = false;
  s.request_bytes = s.response_bytes = s.request_data = s.response_data = 0;
  s.request_start = s.request_end = s.response_start = s.response_end = 0;
  s.request_first_ts = s.request_last_ts = s.response_first_ts = s.response_last_ts = 0;
  s.request_ended = s.response_ended = s.response_seen = s.reset = s.upgraded = false;
  if (capture_) {
    for (int d = 0; d < 2; ++d) {
      s.content[d].clear();
      s.trailers[d].clear();
    }
  }
  ++stats_.streams;
  return &s;
}

void Http2Parser::release(Http2Stream& s, bool complete) {
  events_.on_stream(s, complete);
  const size_t i = static_cast<size_t>(&s - streams_.data());
  if (i + 1 != live_) std::swap(streams_[i], streams_[live_ - 1]);
  --live_;
}

void Http2Parser::end_if_done(Http2Stream& s) {
  if (s.request_ended && s.response_ended) release(s, true);
}

Http2Stream* Http2Parser::upgraded_request(const std::string& method, const std::string& path, const std::string& authority,
                                   const std::string& content_type, uint64_t request_bytes, uint64_t first_ts,
                                   uint64_t last_ts) {
  Http2Stream* s = find(1);
  if (s == nullptr) s = open_stream(1);
  if (s == nullptr) return nullptr;
  s->method = method;
  s->path = path;
  s->authority = authority;
  s->content_type = content_type;
  s->request_bytes = request_bytes;
  s->request_first_ts = first_ts;
  s->request_last_ts = last_ts;
  s->request_ended = true;
  s->upgraded = true;
  highest_client_stream_ = std::max<uint32_t>(highest_client_stream_, 1);
  return s;
}

void Http2Parser::count_frames(int dir, Http2Stream& s, uint64_t start, uint64_t first_ts, uint64_t bytes, uint64_t end,
                               uint64_t ts) {
  if (dir == 0) {
    if (s.request_bytes == 0) {
      s.request_start = start;
      s.request_first_ts = first_ts;
    }
    s.request_bytes += bytes;
    s.request_end = end;
    s.request_last_ts = ts;
  } else {
    if (!s.response_seen) {
      s.response_start = start;
      s.response_first_ts = first_ts;
      s.response_seen = true;
    }
    s.response_bytes += bytes;
    s.response_end = end;
    s.response_last_ts = ts;
  }
}

void Http2Parser::settings(int dir, const std::string& payload) {
  for (size_t i = 0; i + 6 <= payload.size(); i += 6) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(payload.data()) + i;
    if ((uint32_t(p[0]) << 8 | p[1]) == kSettingsHeaderTableSize) {
      // This endpoint's decoder table size binds the peer's encoder: the other direction.
      Dir& other = dirs_[1 - dir];
      if (other.inflater != nullptr && nghttp2_hd_inflate_change_table_size(other.inflater, be32(p + 2)) != 0) {
        stop(other, false);
      }
    }
  }
}

void Http2Parser::frame_header(int dir) {
  Dir& d = dirs_[dir];
  d.length = be24(d.head);
  d.type = d.head[3];
  d.flags = d.head[4];
  d.stream = be32(d.head + 5) & 0x7fffffffu;
  d.payload_have = 0;
  d.payload.clear();
  // A header block continues without interruption, and CONTINUATION only continues one (RFC 9113 6.10).
  if (d.in_block ? (d.type != kContinuation || d.stream != d.block_stream) : d.type == kContinuation) {
    stop(d, false);
    return;
  }
  switch (d.type) {
    case kHeaders:
    case kContinuation:
    case kPushPromise:
      if (d.block.size() + d.length > kMaxHeaderBlock) {
        stop(d, false);
        return;
      }
      d.keep_payload = true;
      break;
    case kSettings:
      if (d.length > kMaxSettingsPayload) {
        stop(d, false);
        return;
      }
      d.keep_payload = true;
      break;
    case kData:
      d.keep_payload = false;  // counted, not copied (the pad length byte is kept below)
      break;
    default:
      d.keep_payload = false;
      break;
  }
  d.phase = Phase::kPayload;
}

void Http2Parser::frame_done(int dir, uint64_t end, uint64_t ts) {
  Dir& d = dirs_[dir];
  d.phase = Phase::kHeader;
  d.head_have = 0;
  ++stats_.frames;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(d.payload.data());
  size_t n = d.payload.size();
  switch (d.type) {
    case kData: {
      Http2Stream* s = find(d.stream);
      if (s == nullptr) break;
      count_frames(dir, *s, d.frame_start, d.frame_ts, 9 + uint64_t{d.length}, end, ts);
      uint64_t data = d.length;
      if ((d.flags & kPadded) && d.length > 0) data = data - 1 - std::min<uint64_t>(data - 1, d.pad_length);
      (dir == 0 ? s->request_data : s->response_data) += data;
      if (d.flags & kEndStream) {
        (dir == 0 ? s->request_ended : s->response_ended) = true;
        end_if_done(*s);
      }
      break;
    }
    case kHeaders:
    case kPushPromise:
    case kContinuation: {
      if (d.type != kContinuation) {
        size_t skip = 0, pad = 0;
        if (d.flags & kPadded) {
          if (n < 1) return stop(d, false);
          pad = p[0];
          skip = 1;
        }
        if (d.type == kHeaders && (d.flags & kPriorityFlag)) skip += 5;
        if (d.type == kPushPromise) skip += 4;  // the promised stream id
        if (skip + pad > n) return stop(d, false);
        p += skip;
        n -= skip + pad;
        d.in_block = true;
        d.block_stream = d.stream;
        d.block_flags = d.flags;
        d.block_is_push = d.type == kPushPromise;
        d.block_start = d.frame_start;
        d.block_ts = d.frame_ts;
        d.block_bytes = 0;
      }
      d.block.append(reinterpret_cast<const char*>(p), n);
      d.block_bytes += 9 + uint64_t{d.length};
      if (d.flags & kEndHeaders) header_block_done(dir, end, ts);
      break;
    }
    case kSettings:
      if (!(d.flags & kAck)) settings(dir, d.payload);
      break;
    case kRstStream:
      if (Http2Stream* s = find(d.stream)) {
        s->reset = true;
        release(*s, true);
      }
      break;
    default:
      break;  // PRIORITY, PING, GOAWAY, WINDOW_UPDATE, extensions: nothing to record
  }
}

void Http2Parser::header_block_done(int dir, uint64_t end, uint64_t ts) {
  Dir& d = dirs_[dir];
  d.in_block = false;
  ++stats_.header_blocks;
  Http2Stream* s = nullptr;
  bool first_request_block = false;
  if (!d.block_is_push) {
    s = find(d.block_stream);
    if (s == nullptr && dir == 0 && d.block_stream > highest_client_stream_) {
      highest_client_stream_ = d.block_stream;
      s = open_stream(d.block_stream);
      first_request_block = s != nullptr;
    }
  }
  // Content capture: a request's first block, a response's first final one (a 1xx block is kept
  // until its :status says so, then dropped), or the trailers after them.
  Http1Content* keep = nullptr;
  int block_status = 0;
  if (capture_ && s != nullptr) {
    Http1Content& headers = s->content[dir];
    keep = (dir == 0 ? first_request_block : headers.headers.empty() && !headers.headers_truncated) ? &headers : &s->trailers[dir];
  }
  // Every block is decoded, those of untracked streams too: the dynamic table must follow.
  const uint8_t* in = reinterpret_cast<const uint8_t*>(d.block.data());
  size_t left = d.block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t used = nghttp2_hd_inflate_hd2(d.inflater, &nv, &flags, in, left, 1);
    if (used < 0) {
      d.block.clear();
      stop(d, false);
      return;
    }
    in += used;
    left -= static_cast<size_t>(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) && keep != nullptr) {
      keep->add_header(reinterpret_cast<const char*>(nv.name), nv.namelen, reinterpret_cast<const char*>(nv.value), nv.valuelen,
                       kMaxHeaderBytes);
      if (dir == 1 && name_is(nv, ":status")) block_status = parse_int(nv.value, nv.valuelen);
    }
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) && s != nullptr) {
      if (dir == 0 && first_request_block) {
        if (name_is(nv, ":method")) set_capped(s->method, nv.value, nv.valuelen, s->truncated);
        else if (name_is(nv, ":path")) set_capped(s->path, nv.value, nv.valuelen, s->truncated);
        else if (name_is(nv, ":authority")) set_capped(s->authority, nv.value, nv.valuelen, s->truncated);
        else if (name_is(nv, "host") && s->authority.empty()) set_capped(s->authority, nv.value, nv.valuelen, s->truncated);
        else if (name_is(nv, "content-type")) set_capped(s->content_type, nv.value, nv.valuelen, s->truncated);
      } else if (dir == 1) {
        if (name_is(nv, ":status")) {
          const int status = parse_int(nv.value, nv.valuelen);
          if (status >= 200 || s->status == 0) s->status = status;  // a 1xx until the final one
        } else if (name_is(nv, "grpc-status")) {
          s->grpc_status = parse_int(nv.value, nv.valuelen);
        }
      }
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(d.inflater);
      break;
    }
    if (used == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT)) {
      d.block.clear();
      stop(d, false);  // no progress: a truncated block
      return;
    }
  }
  d.block.clear();
  if (keep != nullptr && keep == &s->content[1] && block_status >= 100 && block_status < 200) keep->clear_headers();  // interim
  if (s == nullptr) return;
  count_frames(dir, *s, d.block_start, d.block_ts, d.block_bytes, end, ts);
  if (first_request_block) events_.on_request(*s);
  if (d.block_flags & kEndStream) {
    (dir == 0 ? s->request_ended : s->response_ended) = true;
    end_if_done(*s);
  }
}

// Content capture: DATA payload bytes of the frame being received, padding left out.
void Http2Parser::capture_data(int dir, const uint8_t* at, size_t n) {
  Dir& d = dirs_[dir];
  Http2Stream* s = find(d.stream);
  if (s == nullptr) return;
  // Frame positions [have, have + n) of this chunk (payload_have not yet advanced); data lies in
  // [1, length - pad) when PADDED, else [0, length).
  const uint64_t have = d.payload_have;
  const bool padded = (d.flags & kPadded) != 0;
  const uint64_t lo = padded ? 1 : 0;
  const uint64_t hi = padded ? (d.length >= 1u + d.pad_length ? d.length - d.pad_length : 1) : d.length;
  const uint64_t from = std::max(have, lo), to = std::min<uint64_t>(have + n, hi);
  if (from >= to) return;
  s->content[dir].add_body(reinterpret_cast<const char*>(at + (from - have)), static_cast<size_t>(to - from), max_body_[dir]);
}

void Http2Parser::feed(int dir, uint64_t offset, const uint8_t* data, size_t len, uint64_t ts) {
  Dir& d = dirs_[dir];
  size_t i = 0;
  if (offset < d.start) i = static_cast<size_t>(std::min<uint64_t>(len, d.start - offset));
  while (i < len) {
    const uint64_t at = offset + i;
    switch (d.phase) {
      case Phase::kOff:
      case Phase::kStopped:
        return;
      case Phase::kPreface: {
        const size_t n = std::min(len - i, kPrefaceLen - d.preface_have);
        if (std::memcmp(data + i, kPreface + d.preface_have, n) != 0) return stop(d, false);
        d.preface_have += n;
        i += n;
        if (d.preface_have == kPrefaceLen) d.phase = Phase::kHeader;
        break;
      }
      case Phase::kHeader: {
        if (d.head_have == 0) {
          d.frame_start = at;
          d.frame_ts = ts;
        }
        const size_t n = std::min(len - i, sizeof(d.head) - d.head_have);
        std::memcpy(d.head + d.head_have, data + i, n);
        d.head_have += n;
        i += n;
        if (d.head_have == sizeof(d.head)) {
          frame_header(dir);
          if (d.phase == Phase::kPayload && d.length == 0) frame_done(dir, offset + i, ts);
        }
        break;
      }
      case Phase::kPayload: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(len - i, d.length - d.payload_have));
        if (d.keep_payload) d.payload.append(reinterpret_cast<const char*>(data + i), n);
        else if (d.payload_have == 0 && n > 0) d.pad_length = data[i];
        if (capture_ && d.type == kData && n > 0) capture_data(dir, data + i, n);
        d.payload_have += static_cast<uint32_t>(n);
        i += n;
        if (d.payload_have == d.length) frame_done(dir, offset + i, ts);
        break;
      }
    }
  }
}

void Http2Parser::close() {
  while (live_ > 0) release(streams_[live_ - 1], false);
}

}  // namespace podspan
