#include "shadow/exchange_rows.h"

#include <cmath>
#include <cstring>
#include <initializer_list>

#include "analysis/json_records.h"

namespace podspan {

namespace {

template <typename T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian machines only (the addon's targets)
  s.append(b, sizeof(T));
}

}  // namespace

ExchangeRowWriter::ExchangeRowWriter(ExchangeBatch& b, ExchangeRowKind kind, uint64_t conn) : b_(b), start_(b.meta.size()) {
  put<uint32_t>(b_.meta, 0);
  b_.meta += static_cast<char>(kind);
  num(static_cast<double>(conn));
}

ExchangeRowWriter& ExchangeRowWriter::num(double v) {
  put(b_.meta, v);
  return *this;
}

ExchangeRowWriter& ExchangeRowWriter::ms(uint64_t ns) {
  if (ns == kUnknownNs) return num(std::nan(""));
  // Rounded to the µs as the JSON lines were: the same double JSON.parse made of "X.YYY".
  return num(static_cast<double>(rounded_us(ns)) / 1000.0);
}

ExchangeRowWriter& ExchangeRowWriter::u32(uint32_t v) {
  put(b_.meta, v);
  return *this;
}

ExchangeRowWriter& ExchangeRowWriter::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  b_.meta.append(s.data(), s.size());
  return *this;
}

ExchangeRowWriter& ExchangeRowWriter::flag(bool v) {
  b_.meta += static_cast<char>(v ? 1 : 0);
  return *this;
}

ExchangeRowWriter& ExchangeRowWriter::slice(const char* p, size_t n) {
  u32(static_cast<uint32_t>(b_.data.size()));
  u32(static_cast<uint32_t>(n));
  b_.data.append(p, n);
  return *this;
}

void ExchangeRowWriter::end() {
  const auto length = static_cast<uint32_t>(b_.meta.size() - start_);
  std::memcpy(&b_.meta[start_], &length, sizeof length);
}

// ---- rows back to JSON lines (tests, fuzzing) ----

namespace {

// A field of a row's layout: its type and the name its JSON line gives it.
enum class F : uint8_t { kNum, kMs, kStr, kHeaders, kSlice, kFlag, kResp };
struct Field {
  F type;
  const char* name;
};
using Layout = std::initializer_list<Field>;

const Layout kOpen = {{F::kStr, "client"}, {F::kNum, "client_port"}, {F::kStr, "server"}, {F::kNum, "server_port"}, {F::kMs, "ts_ms"}};
const Layout kSkip = {{F::kStr, "reason"}, {F::kNum, "count"}};
const Layout kClose = {{F::kMs, "ts_ms"}};
const Layout kTurn = {{F::kNum, "seq"},        {F::kMs, "ts_ms"},       {F::kSlice, "request"}, {F::kSlice, "reply"},
                      {F::kMs, "latency_ms"}, {F::kMs, "duration_ms"}, {F::kFlag, "reply_truncated"}};
const Layout kHttp = {{F::kNum, "seq"},     {F::kMs, "ts_ms"},          {F::kStr, "method"},       {F::kStr, "target"},
                      {F::kStr, "path"},    {F::kStr, "route"},         {F::kStr, "host"},         {F::kStr, "version"},
                      {F::kHeaders, "headers"}, {F::kSlice, "body"},    {F::kNum, "body_length"},  {F::kFlag, "body_truncated"},
                      {F::kResp, "resp"}};
const Layout kHttpResp = {{F::kNum, "status"},    {F::kStr, "version"},        {F::kHeaders, "headers"},
                          {F::kSlice, "body"},    {F::kNum, "body_length"},    {F::kFlag, "body_truncated"},
                          {F::kMs, "ts_ms"},      {F::kMs, "latency_ms"},      {F::kMs, "duration_ms"}};
const Layout kH2 = {{F::kNum, "stream"},  {F::kMs, "ts_ms"},          {F::kStr, "method"},        {F::kStr, "path"},
                    {F::kStr, "route"},   {F::kStr, "authority"},     {F::kHeaders, "headers"},   {F::kSlice, "body"},
                    {F::kNum, "body_length"}, {F::kFlag, "body_truncated"}, {F::kHeaders, "trailers"}, {F::kFlag, "grpc"},
                    {F::kResp, "resp"}};
const Layout kH2Resp = {{F::kNum, "status"},      {F::kHeaders, "headers"},      {F::kSlice, "body"},
                        {F::kNum, "body_length"}, {F::kFlag, "body_truncated"},  {F::kHeaders, "trailers"},
                        {F::kNum, "grpc_status"}, {F::kMs, "ts_ms"},             {F::kMs, "latency_ms"},
                        {F::kMs, "duration_ms"}};

class Reader {
 public:
  Reader(std::string_view row, size_t data_bytes) : p_(row), data_bytes_(data_bytes) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool done() const { return at_ == p_.size(); }

  bool fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }

  template <typename T>
  bool get(T& v) {
    if (p_.size() - at_ < sizeof(T)) return fail("a row shorter than its fields");
    std::memcpy(&v, p_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }

  bool str(std::string_view& s) {
    uint32_t n = 0;
    if (!get(n)) return false;
    if (p_.size() - at_ < n) return fail("a string longer than its row");
    s = p_.substr(at_, n);
    at_ += n;
    return true;
  }

  bool fields(const Layout& layout, std::string& out, bool h2);

 private:
  std::string_view p_;
  size_t at_ = 0, data_bytes_;
  std::string error_;
};

void append_number(std::string& out, double v) {
  // What the JSON lines held: integers (a status, a count, grpc_status -1).
  out += std::to_string(static_cast<long long>(v));
}

bool Reader::fields(const Layout& layout, std::string& out, bool h2) {
  for (const Field& f : layout) {
    out += ",\"";
    out += f.name;
    out += "\":";
    switch (f.type) {
      case F::kNum: {
        double v = 0;
        if (!get(v)) return false;
        if (!(std::fabs(v) < 9007199254740992.0) || v != std::floor(v)) return fail("a number that is not an integer");
        append_number(out, v);
        break;
      }
      case F::kMs: {
        double v = 0;
        if (!get(v)) return false;
        if (std::isnan(v)) {
          out += "null";
        } else {
          if (!(v >= 0 && v < 9007199254740.0)) return fail("a time out of range");
          append_ms(out, static_cast<uint64_t>(std::llround(v * 1000)) * 1000);
        }
        break;
      }
      case F::kStr: {
        std::string_view s;
        if (!str(s)) return false;
        append_json_string(out, s.data(), s.size());
        break;
      }
      case F::kHeaders: {
        uint32_t count = 0;
        if (!get(count)) return false;
        if (count > (p_.size() - at_) / 8) return fail("a header count longer than its row");
        out += '[';
        for (uint32_t i = 0; i < count; ++i) {
          std::string_view n, v;
          if (!str(n) || !str(v)) return false;
          out += i ? ",[" : "[";
          append_json_string(out, n.data(), n.size());
          out += ',';
          append_json_string(out, v.data(), v.size());
          out += ']';
        }
        out += ']';
        break;
      }
      case F::kSlice: {
        uint32_t off = 0, len = 0;
        if (!get(off) || !get(len)) return false;
        if (static_cast<uint64_t>(off) + len > data_bytes_) return fail("a slice outside the batch's data");
        out += '[' + std::to_string(off) + ',' + std::to_string(len) + ']';
        break;
      }
      case F::kFlag: {
        uint8_t v = 0;
        if (!get(v)) return false;
        if (v > 1) return fail("a flag other than 0 or 1");
        out += v ? "true" : "false";
        break;
      }
      case F::kResp: {
        uint8_t present = 0;
        if (!get(present)) return false;
        if (present == 1) {
          // The nested object's first member has no comma before it.
          out += '{';
          const size_t open = out.size();
          if (!fields(h2 ? kH2Resp : kHttpResp, out, h2)) return false;
          out.erase(open, 1);
          out += '}';
        } else if (present == 0) {
          std::string_view note;
          if (!str(note)) return false;
          out += "null,\"note\":";
          append_json_string(out, note.data(), note.size());
        } else {
          return fail("a response flag other than 0 or 1");
        }
        break;
      }
    }
  }
  return true;
}

const char* kind_name(uint8_t kind, const Layout** layout) {
  switch (static_cast<ExchangeRowKind>(kind)) {
    case ExchangeRowKind::kOpen: return *layout = &kOpen, "open";
    case ExchangeRowKind::kHttp: return *layout = &kHttp, "http";
    case ExchangeRowKind::kH2: return *layout = &kH2, "h2";
    case ExchangeRowKind::kTurn: return *layout = &kTurn, "turn";
    case ExchangeRowKind::kSkip: return *layout = &kSkip, "skip";
    case ExchangeRowKind::kClose: return *layout = &kClose, "close";
  }
  return nullptr;
}

bool read_row_headers(Reader& r, size_t row_bytes, ExchangeRowHeaders& out) {
  uint32_t count = 0;
  if (!r.get(count) || count > row_bytes / 8) return false;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view n, v;
    if (!r.str(n) || !r.str(v)) return false;
    out.emplace_back(n, v);
  }
  return true;
}

// One field of a layout, read into the member its type uses (a header list into `headers`).
struct FieldValue {
  double number = 0;
  std::string_view text;
  uint32_t slice_len = 0;
  uint8_t flag = 0;  // a flag, or kResp's "a response follows"
};

bool read_field(Reader& r, const Field& f, size_t row_bytes, FieldValue& v, ExchangeRowHeaders& headers) {
  switch (f.type) {
    case F::kHeaders: return read_row_headers(r, row_bytes, headers);
    case F::kSlice: {
      uint32_t off = 0;
      return r.get(off) && r.get(v.slice_len);
    }
    case F::kFlag: return r.get(v.flag) && v.flag <= 1;
    case F::kResp: return r.get(v.flag);
    case F::kStr: return r.str(v.text);
    case F::kNum:
    case F::kMs: return r.get(v.number);
  }
  return false;
}

// kHttpResp's fields, in its layout's order: those wanted kept, the rest stepped over.
bool read_row_response(Reader& r, size_t row_bytes, ExchangeRowResponse& out) {
  for (const Field& f : kHttpResp) {
    FieldValue v;
    if (!read_field(r, f, row_bytes, v, out.headers)) return false;
    const std::string_view name = f.name;
    if (name == "status") out.status = v.number;
    else if (name == "body") out.body_len = v.slice_len;
    else if (name == "body_length") out.body_length = v.number;
    else if (name == "body_truncated") out.body_truncated = v.flag != 0;
  }
  out.present = true;
  return true;
}

}  // namespace

bool read_http_row(std::string_view row, ExchangeRowRequest& out, ExchangeRowResponse* resp) {
  out.headers.clear();
  if (resp) {
    resp->headers.clear();
    resp->present = false;
  }
  uint32_t length = 0;
  if (row.size() < kExchangeRowHeadBytes) return false;
  std::memcpy(&length, row.data(), sizeof length);
  if (length != row.size()) return false;
  Reader r(row.substr(4), 0);
  uint8_t kind = 0;
  double conn = 0;
  if (!r.get(kind) || static_cast<ExchangeRowKind>(kind) != ExchangeRowKind::kHttp || !r.get(conn)) return false;
  // kHttp's fields in the layout's order: those wanted kept, the rest stepped over.
  for (const Field& f : kHttp) {
    if (f.type == F::kResp && !resp) return true;
    FieldValue v;
    if (!read_field(r, f, row.size(), v, out.headers)) return false;
    const std::string_view name = f.name;
    if (f.type == F::kResp) {
      // No response: a note follows, which a replay has no use for.
      return v.flag == 1 ? read_row_response(r, row.size(), *resp) : v.flag == 0;
    }
    if (name == "method") out.method = v.text;
    else if (name == "target") out.target = v.text;
    else if (name == "host") out.host = v.text;
    else if (name == "body") out.body_len = v.slice_len;
  }
  return false;
}

bool rows_to_json(std::string_view meta, size_t data_bytes, std::string& out, std::string* error) {
  size_t at = 0;
  for (size_t n = 1; at < meta.size(); ++n) {
    const auto bad = [&](const std::string& what) {
      if (error) *error = "row " + std::to_string(n) + ": " + what;
      return false;
    };
    uint32_t length = 0;
    if (meta.size() - at < kExchangeRowHeadBytes) return bad("cut short");
    std::memcpy(&length, meta.data() + at, sizeof length);
    if (length < kExchangeRowHeadBytes || length > meta.size() - at) return bad("a length its batch cannot hold");
    Reader r(meta.substr(at + 4, length - 4), data_bytes);
    uint8_t kind = 0;
    double conn = 0;
    r.get(kind);
    r.get(conn);
    const Layout* layout = nullptr;
    const char* name = kind_name(kind, &layout);
    if (!name) return bad("an unknown kind " + std::to_string(kind));
    if (!(conn >= 0 && conn < 9007199254740992.0) || conn != std::floor(conn)) return bad("a connection id that is not one");
    out += "{\"t\":\"";
    out += name;
    out += "\",\"conn\":\"" + std::to_string(static_cast<unsigned long long>(conn)) + '"';
    if (!r.fields(*layout, out, static_cast<ExchangeRowKind>(kind) == ExchangeRowKind::kH2)) return bad(r.error());
    if (!r.done()) return bad("bytes past its fields");
    out += "}\n";
    at += length;
  }
  return true;
}

}  // namespace podspan
