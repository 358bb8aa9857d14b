// FileReader::chain: capture files read one after another as one input (tcpdump -V).
#include "pcap/file_reader.h"

namespace podspan {
namespace {

class ChainedReader final : public FileReader {
 public:
  explicit ChainedReader(std::vector<std::unique_ptr<FileReader>> parts) : parts_(std::move(parts)) { gather(); }

  Format format() const override { return first_format_; }
  bool nanosecond() const override { return first_nanosecond_; }
  const std::vector<InterfaceInfo>& interfaces() const override { return interfaces_; }
  const std::vector<SectionInfo>& sections() const override { return sections_; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    for (;;) {
      if (at_end_of_part_) next_part();
      const ReadStatus status = parts_[current_]->read(out, max_packets, max_bytes);
      gather();
      if (done_interfaces_ > 0) {
        for (PacketRecord& r : out.records) r.iface += static_cast<uint32_t>(done_interfaces_);
      }
      if (status != ReadStatus::kEnd || current_ + 1 == parts_.size()) return status;
      at_end_of_part_ = true;
      // A file's end is not the input's; kOk always carries packets, so an empty end goes on.
      if (!out.records.empty()) return ReadStatus::kOk;
    }
  }

  const uint8_t* contents() const override { return nullptr; }
  size_t contents_size() const override { return 0; }
  const std::string& error() const override { return parts_[current_]->error(); }
  uint64_t skipped_blocks() const override { return skipped_done_ + parts_[current_]->skipped_blocks(); }

 private:
  // The packets lent from the finished file were consumed before this call: it may go.
  void next_part() {
    at_end_of_part_ = false;
    done_interfaces_ = interfaces_.size();
    done_sections_ = sections_.size();
    skipped_done_ += parts_[current_]->skipped_blocks();
    parts_[current_++].reset();
    gather();
  }

  // What the current file has shown since the last look (a reader's lists only grow), after the
  // finished files' interfaces and sections.
  void gather() {
    const FileReader& part = *parts_[current_];
    if (current_ == 0) {
      first_format_ = part.format();
      first_nanosecond_ = part.nanosecond();
    }
    const auto& ifs = part.interfaces();
    for (size_t i = interfaces_.size() - done_interfaces_; i < ifs.size(); ++i) interfaces_.push_back(ifs[i]);
    const auto& secs = part.sections();
    for (size_t i = sections_.size() - done_sections_; i < secs.size(); ++i) sections_.push_back(secs[i]);
  }

  std::vector<std::unique_ptr<FileReader>> parts_;
  size_t current_ = 0;
  bool at_end_of_part_ = false;
  size_t done_interfaces_ = 0, done_sections_ = 0;
  uint64_t skipped_done_ = 0;
  Format first_format_ = Format::kPcap;
  bool first_nanosecond_ = false;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<SectionInfo> sections_;
};

}  // namespace

std::unique_ptr<FileReader> FileReader::chain(std::vector<std::unique_ptr<FileReader>> parts) {
  return std::make_unique<ChainedReader>(std::move(parts));
}

}  // namespace podspan
