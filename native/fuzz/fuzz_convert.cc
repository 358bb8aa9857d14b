// libFuzzer target (conversion): any bytes through the pcap/pcapng reader, and every packet it returns
// through the pcapng writer (to /dev/null), so neither reads past a buffer nor crashes.
#include <cstddef>
#include <cstdint>

#include "common/errors.h"
#include "pcap/file_reader.h"
#include "pcap/file_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podspan;
  std::unique_ptr<FileReader> reader;
  try {
    reader = FileReader::from_memory(data, size, "fuzz");
  } catch (const CaptureError&) {
    return 0;
  }
  WriterOptions wo;
  wo.path = "/dev/null";
  wo.format = FileFormat::kPcapng;
  wo.buffer_bytes = 64 * 1024;
  CaptureWriter writer(wo);
  Batch batch;
  volatile uint8_t sink = 0;
  for (int rounds = 0; rounds < 10000; ++rounds) {
    const ReadStatus st = reader->read(batch, 64, 1 << 20);
    while (writer.interface_count() < reader->interfaces().size()) {
      writer.add_interface(reader->interfaces()[writer.interface_count()]);
    }
    for (const PacketRecord& r : batch.records) {
      // Touch every byte the record claims, so ASan sees any overrun.
      for (uint32_t i = 0; i < r.caplen + r.optlen; ++i) sink ^= batch.data[r.offset + i];
      if (r.iface >= writer.interface_count()) __builtin_trap();
      writer.write(r, batch.data.data() + r.offset);
    }
    if (st != ReadStatus::kOk) break;
  }
  writer.close();
  return 0;
}
