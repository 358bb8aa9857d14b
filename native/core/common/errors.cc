#include "common/errors.h"

namespace podspan {

const char* error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInterface: return "ERR_INTERFACE";
    case ErrorKind::kFilter: return "ERR_FILTER";
    case ErrorKind::kInputFile: return "ERR_INPUT_FILE";
    case ErrorKind::kCorruptFile: return "ERR_CORRUPT_FILE";
    case ErrorKind::kOutput: return "ERR_OUTPUT";
    case ErrorKind::kUsage: return "ERR_USAGE";
    case ErrorKind::kForward: return "ERR_FORWARD";
    case ErrorKind::kInternal: break;
  }
  return "ERR_INTERNAL";
}

}  // namespace podspan
