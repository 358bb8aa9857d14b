// AsyncFiles: pieces of many files written on the writer thread through a cache of two open
// descriptors and a tiny in-flight budget, holes and trailing gaps as zeros, and the first
// error thrown with the file's name.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "async_files.h"
#include "check.h"
#include "errors.h"

using namespace podspan;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/podspan-async-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// A piece holding a copy of s.
Piece bytes(const std::string& s) {
  Piece p;
  p.copy(reinterpret_cast<const uint8_t*>(s.data()), static_cast<uint32_t>(s.size()));
  return p;
}

}  // namespace

TEST(async_files_write_interleaved_pieces_through_a_small_descriptor_cache) {
  const std::string dir = temp_dir();
  {
    AsyncFiles files(2, 8);  // two descriptors, eight bytes in flight: every path is exercised
    for (uint64_t k = 0; k < 5; ++k) files.create(k, dir + "/f" + std::to_string(k));
    for (int round = 0; round < 3; ++round)
      for (uint64_t k = 0; k < 5; ++k) files.write(k, static_cast<uint64_t>(round) * 4, bytes(std::to_string(k) + "abc"));
    files.write(4, 20, bytes("zz"));  // a hole of 8 bytes before it
    for (uint64_t k = 0; k < 5; ++k) files.close(k, k == 3 ? 16 : (k == 4 ? 22 : 12));  // file 3 ends in a 4-byte gap
    files.finish();
  }
  CHECK_EQ(slurp(dir + "/f0"), std::string("0abc0abc0abc"));
  CHECK_EQ(slurp(dir + "/f3"), std::string("3abc3abc3abc") + std::string(4, '\0'));
  CHECK_EQ(slurp(dir + "/f4"), std::string("4abc4abc4abc") + std::string(8, '\0') + "zz");
  std::system(("rm -rf " + dir).c_str());
}

TEST(async_files_create_empties_a_file_left_there_and_sets_lengths_only_where_needed) {
  const std::string dir = temp_dir();
  {
    std::ofstream old(dir + "/f0", std::ios::binary);
    old << "an older, longer file of the same name";
  }
  {
    AsyncFiles files(1, 1 << 20);  // one descriptor: f0 is closed and reopened between its pieces
    files.create(0, dir + "/f0");
    files.create(1, dir + "/f1");
    files.write(0, 0, bytes("new"));
    files.write(1, 0, bytes("x"));
    files.write(0, 3, bytes("er"));
    files.close(0, 5);
    files.close(1, 4);  // three missing bytes at the end: zeros
    files.finish();
  }
  CHECK_EQ(slurp(dir + "/f0"), std::string("newer"));
  CHECK_EQ(slurp(dir + "/f1"), std::string("x") + std::string(3, '\0'));
  std::system(("rm -rf " + dir).c_str());
}

TEST(async_files_write_pieces_of_lent_and_copied_parts_in_order) {
  const std::string dir = temp_dir();
  const std::string lent = "0123456789abcdefghij";  // stands for a mapped input file
  const auto* base = reinterpret_cast<const uint8_t*>(lent.data());
  Piece p;
  p.lend(base, 4);
  p.lend(base + 4, 3);  // adjacent: merges with the part before
  const std::string copied = "XY";
  p.copy(reinterpret_cast<const uint8_t*>(copied.data()), 2);
  p.copy(reinterpret_cast<const uint8_t*>(copied.data()), 1);  // merges too
  p.lend(base + 10, 5);
  CHECK_EQ(p.parts.size(), 3u);
  CHECK_EQ(p.size, 15u);
  Piece many;  // more parts than one pwritev takes (IOV_MAX = 1024)
  std::string want_many;
  for (int i = 0; i < 3000; ++i) {
    many.lend(base + (i % 2 ? 2 : 0), 1);  // never adjacent: 3000 parts
    want_many += lent[i % 2 ? 2 : 0];
  }
  CHECK_EQ(many.parts.size(), 3000u);
  {
    AsyncFiles files(4, 1 << 20);
    files.create(0, dir + "/p");
    files.write(0, 0, std::move(p));
    files.create(1, dir + "/many");
    files.write(1, 0, std::move(many));
    files.close(0, 15);
    files.close(1, 3000);
    files.finish();
  }
  CHECK_EQ(slurp(dir + "/p"), std::string("0123456XYXabcde"));
  CHECK(slurp(dir + "/many") == want_many);
  std::system(("rm -rf " + dir).c_str());
}

TEST(async_files_report_the_first_error_with_the_file_name) {
  AsyncFiles files(4, 1 << 20);
  files.create(1, "/nonexistent-podspan-dir/a");
  files.write(1, 0, bytes("x"));
  files.close(1, 1);
  std::string message;
  try {
    files.finish();
  } catch (const CaptureError& e) {
    message = e.what();
    CHECK(e.kind() == ErrorKind::kOutput);
  }
  CHECK_EQ(message, std::string("/nonexistent-podspan-dir/a: cannot create: No such file or directory"));
}
