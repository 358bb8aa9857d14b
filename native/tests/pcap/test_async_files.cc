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

#include "pcap/async_files.h"
#include "check.h"
#include "common/errors.h"

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

namespace {
void wait_done(const AsyncFiles& files, uint64_t ticket) {
  while (files.done() < ticket) usleep(1000);
}
off_t size_of(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}
}  // namespace

// Given up midway: a file written before stays whole; one whose second piece was given up keeps
// its first piece and is not extended to its length with zeros; one created after is not created;
// each says what it lacks.
TEST(async_files_abandon_closes_files_as_they_are_and_records_what_each_lacks) {
  const std::string dir = temp_dir();
  AsyncFiles files(4, 1 << 20);
  files.create(0, dir + "/whole");
  files.write(0, 0, bytes("complete"));
  const uint64_t whole = files.close(0, 10);  // ends in a 2-byte gap
  files.create(1, dir + "/half");
  wait_done(files, files.write(1, 0, bytes("first")));
  wait_done(files, whole);
  files.abandon();
  files.write(1, 5, bytes("second"));
  files.create(2, dir + "/never");
  files.write(2, 0, bytes("lost"));
  const uint64_t half = files.close(1, 11), never = files.close(2, 4);
  wait_done(files, std::max(half, never));
  const Unwritten w = files.unwritten(0), h = files.unwritten(1), n = files.unwritten(2);
  CHECK(w.created);
  CHECK_EQ(w.bytes, 0u);
  CHECK(h.created);
  CHECK_EQ(h.bytes, 6u);
  CHECK(!n.created);
  CHECK_EQ(n.bytes, 4u);
  files.finish();
  CHECK_EQ(slurp(dir + "/whole"), std::string("complete") + std::string(2, '\0'));
  CHECK_EQ(slurp(dir + "/half"), std::string("first"));
  CHECK_EQ(size_of(dir + "/never"), -1);
  std::system(("rm -rf " + dir).c_str());
}

// Creates and closes hold memory too (the task, the path): they count against the budget, so a
// producer making many short files waits like one writing many bytes.
TEST(async_files_count_every_task_against_the_budget) {
  const std::string dir = temp_dir();
  const size_t budget = 64 << 10;
  AsyncFiles files(16, budget);
  const std::string long_name = std::string(100, 'n');
  for (uint64_t k = 0; k < 20000; ++k) {
    files.create(k, dir + "/" + long_name + std::to_string(k % 8));
    files.close(k, 0);
  }
  files.finish();
  const size_t create_cost = AsyncFiles::task_cost(dir.size() + 1 + long_name.size() + 1, Piece());
  CHECK(create_cost > 100 + sizeof(std::string));
  CHECK(files.peak_in_flight() <= budget + create_cost);
  CHECK(files.peak_in_flight() > 0);
  std::system(("rm -rf " + dir).c_str());
}
