// Typed errors of the native core. The addon maps `kind` to a JS error code, so the CLI can
// print one clear line naming the culprit (interface, filter, file) without a stack trace.
#pragma once

#include <stdexcept>
#include <string>

namespace podspan {

enum class ErrorKind {
  kInterface,   // a live device could not be opened or activated
  kFilter,      // a BPF expression did not compile
  kInputFile,   // a capture file could not be opened or is not a capture file
  kCorruptFile, // a capture file is damaged past some point
  kOutput,      // an output file could not be created or written
  kUsage,       // options that do not fit together
  kForward,     // a forwarding target (VXLAN, gRPC) could not be set up or used
  kInternal,
};

const char* error_code(ErrorKind kind);  // "ERR_INTERFACE", "ERR_FILTER", ...

class CaptureError : public std::runtime_error {
 public:
  CaptureError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace podspan
