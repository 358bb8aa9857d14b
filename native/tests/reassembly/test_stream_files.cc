// StreamFiles: what many short live streams hold while their payload waits to be written.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "check.h"
#include "heap.h"
#include "reassembly/stream_files.h"
#include "tcp_frames.h"

using namespace podspan;
using podspan_test::raw_tcp_frame;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/podspan-streamfiles-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

void feed(StreamFiles& sf, const std::vector<uint8_t>& frame, uint64_t ts) {
  PacketRecord rec{};
  rec.ts_ns = ts;
  rec.caplen = rec.origlen = static_cast<uint32_t>(frame.size());
  sf.consume(rec, frame.data());
}

}  // namespace

#if defined(PODSPAN_GLIBC_MALLOC)
// Live payload is copied into a piece per direction. Each piece reserved room for a full 64 KiB
// and counted only its payload against write_buffer_total: 100,000 flows of a few bytes held
// 6 GB. Now a short piece holds little and is counted at what it holds.
TEST(stream_files_short_live_streams_hold_little_while_they_wait) {
  const std::string dir = temp_dir();
  {
    StreamFilesOptions opt;
    opt.dir = dir;
    StreamFiles sf(opt);
    InterfaceInfo ifc;
    ifc.linktype = kLinktypeRaw;
    sf.add_interface(ifc);
    const int flows = 3000;
    const size_t before = mallinfo2().uordblks;
    for (int f = 0; f < flows; ++f) {
      const uint16_t port = static_cast<uint16_t>(10000 + f);
      feed(sf, raw_tcp_frame(1, port, 2, 80, 100, 0x02, ""), 1);
      feed(sf, raw_tcp_frame(1, port, 2, 80, 101, 0x18, "0123456789"), 2);
    }
    const double per_flow = static_cast<double>(mallinfo2().uordblks - before) / flows;
    CHECK(per_flow < 8192);  // flow, stream slot, name, a queued create and a 4 KiB piece; was > 64 KiB
    sf.finish();
  }
  std::ifstream in(dir + "/010.000.000.001.10007-010.000.000.002.00080", std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  CHECK_EQ(os.str(), std::string("0123456789"));
  std::system(("rm -rf " + dir).c_str());
}
#endif

namespace {
std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}
}  // namespace

// tcpflow's -b: each direction's file holds its stream's first max_direction_bytes, whether the
// limit falls inside a segment, on a segment's edge, or after a gap; the rest is counted in the
// index line, never written.
TEST(stream_files_keep_each_direction_up_to_max_direction_bytes) {
  const std::string dir = temp_dir();
  {
    StreamFilesOptions opt;
    opt.dir = dir;
    opt.max_direction_bytes = 8;
    StreamFiles sf(opt);
    InterfaceInfo ifc;
    ifc.linktype = kLinktypeRaw;
    sf.add_interface(ifc);
    feed(sf, raw_tcp_frame(1, 40000, 2, 80, 100, 0x02, ""), 1);
    feed(sf, raw_tcp_frame(2, 80, 1, 40000, 900, 0x12, ""), 2);
    feed(sf, raw_tcp_frame(1, 40000, 2, 80, 101, 0x18, "hello "), 3);   // [0, 6)
    feed(sf, raw_tcp_frame(1, 40000, 2, 80, 107, 0x18, "world!"), 4);   // [6, 12): cut at 8
    feed(sf, raw_tcp_frame(1, 40000, 2, 80, 113, 0x18, "more"), 5);     // beyond: counted only
    feed(sf, raw_tcp_frame(2, 80, 1, 40000, 904, 0x18, "tail"), 6);     // after a 3-byte gap: [3, 7) then
    feed(sf, raw_tcp_frame(2, 80, 1, 40000, 908, 0x18, "XYZ"), 7);      // [7, 10): cut at 8
    sf.finish();
    CHECK_EQ(sf.stats().truncated_bytes, 4u + 4u + 2u);
  }
  CHECK_EQ(file_text(dir + "/010.000.000.001.40000-010.000.000.002.00080"), std::string("hello wo"));
  CHECK_EQ(file_text(dir + "/010.000.000.002.00080-010.000.000.001.40000"), std::string("\0\0\0tailX", 8));
  const std::string index = file_text(dir + "/index.jsonl");
  CHECK(index.find("\"bytes\":8,\"gaps\":0,\"missing_bytes\":0,\"truncated_bytes\":8") != std::string::npos);
  CHECK(index.find("\"bytes\":5,\"gaps\":1,\"missing_bytes\":3,\"truncated_bytes\":2") != std::string::npos);
  std::system(("rm -rf " + dir).c_str());
}
