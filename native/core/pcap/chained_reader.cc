// FileReader::chain: capture files read one after another as one input (tcpdump -V).
#include "pcap/file_reader.h"

#include "common/errors.h"

namespace podspan {
namespace {

class ChainedReader final : public FileReader {
 public:
  explicit ChainedReader(std::vector<ChainPart> parts) : parts_(std::move(parts)) { gather(); }

  Format format() const override { return first_format_; }
  bool nanosecond() const override { return first_nanosecond_; }
  const std::vector<InterfaceInfo>& interfaces() const override { return interfaces_; }
  const std::vector<SectionInfo>& sections() const override { return sections_; }

  ReadStatus read(Batch& out, size_t max_packets, size_t max_bytes) override {
    for (;;) {
      if (!open_error_.empty()) {
        out.clear();
        return ReadStatus::kError;
      }
      if (at_end_of_part_ && !next_part()) {
        out.clear();
        return ReadStatus::kError;
      }
      const ReadStatus status = parts_[current_].reader->read(out, max_packets, max_bytes);
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
  const std::string& error() const override { return open_error_.empty() ? part().error() : open_error_; }
  uint64_t skipped_blocks() const override { return skipped_done_ + (parts_[current_].reader ? part().skipped_blocks() : 0); }

 private:
  const FileReader& part() const { return *parts_[current_].reader; }

  // The packets lent from the finished file were consumed before this call: it may go. False
  // when the next file, opened only now, cannot be read (open_error_ says why).
  bool next_part() {
    at_end_of_part_ = false;
    done_interfaces_ = interfaces_.size();
    done_sections_ = sections_.size();
    skipped_done_ += part().skipped_blocks();
    parts_[current_++].reader.reset();
    ChainPart& next = parts_[current_];
    if (!next.reader) {
      try {
        next.reader = next.open_later();
      } catch (const CaptureError& e) {
        open_error_ = e.what();
        return false;
      }
    }
    gather();
    return true;
  }

  // What the current file has shown since the last look (a reader's lists only grow), after the
  // finished files' interfaces and sections.
  void gather() {
    const FileReader& part = this->part();
    if (current_ == 0) {
      first_format_ = part.format();
      first_nanosecond_ = part.nanosecond();
    }
    const auto& ifs = part.interfaces();
    for (size_t i = interfaces_.size() - done_interfaces_; i < ifs.size(); ++i) interfaces_.push_back(ifs[i]);
    const auto& secs = part.sections();
    for (size_t i = sections_.size() - done_sections_; i < secs.size(); ++i) sections_.push_back(secs[i]);
  }

  std::vector<ChainPart> parts_;
  std::string open_error_;
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

std::unique_ptr<FileReader> FileReader::chain(std::vector<ChainPart> parts) {
  return std::make_unique<ChainedReader>(std::move(parts));
}

std::unique_ptr<FileReader> FileReader::chain(std::vector<std::unique_ptr<FileReader>> parts) {
  std::vector<ChainPart> opened(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) opened[i].reader = std::move(parts[i]);
  return chain(std::move(opened));
}

}  // namespace podspan
