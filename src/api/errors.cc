#include "api/errors.h"

#include <cstdarg>
#include <cstdio>

namespace bitnet {
namespace {

struct ThreadError {
  char message[512];
  bool set = false;
};
thread_local ThreadError t_error;

void Record(const char* format, va_list args) {
  std::vsnprintf(t_error.message, sizeof(t_error.message), format, args);
  t_error.set = true;
}

}  // namespace

int Fail(int status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  Record(format, args);
  va_end(args);
  return status;
}

void Note(const char* format, ...) {
  va_list args;
  va_start(args, format);
  Record(format, args);
  va_end(args);
}

const char* LastError() { return t_error.set ? t_error.message : nullptr; }

}  // namespace bitnet

extern "C" {

const char* bitnet_status_string(int status) {
  switch (status) {
    case BITNET_OK: return "BITNET_OK: success";
    case BITNET_E_NULL_POINTER: return "BITNET_E_NULL_POINTER: a required pointer is NULL";
    case BITNET_E_BUFFER_TOO_SMALL: return "BITNET_E_BUFFER_TOO_SMALL: an output buffer is too small";
    case BITNET_E_SIZE_MISMATCH: return "BITNET_E_SIZE_MISMATCH: buffer lengths disagree";
    case BITNET_E_SIZE_OVERFLOW: return "BITNET_E_SIZE_OVERFLOW: a length is too large";
    case BITNET_E_INVALID_BLOCK_SIZE: return "BITNET_E_INVALID_BLOCK_SIZE: block size must be a multiple of 4 in [4, 1048576]";
    case BITNET_E_INVALID_FORMAT: return "BITNET_E_INVALID_FORMAT: unknown format";
    case BITNET_E_INVALID_OPTIONS: return "BITNET_E_INVALID_OPTIONS: invalid options struct";
    case BITNET_E_ALL_NONFINITE: return "BITNET_E_ALL_NONFINITE: input has no finite element";
    case BITNET_E_OVERLAP: return "BITNET_E_OVERLAP: an output buffer overlaps another buffer";
    case BITNET_E_MISALIGNED: return "BITNET_E_MISALIGNED: a float pointer is not aligned";
    case BITNET_E_UNSUPPORTED_TARGET: return "BITNET_E_UNSUPPORTED_TARGET: CPU target not available";
    case BITNET_E_INVALID_ARGUMENT: return "BITNET_E_INVALID_ARGUMENT: invalid argument";
    case BITNET_E_DEVICE_UNAVAILABLE: return "BITNET_E_DEVICE_UNAVAILABLE: the requested device cannot run the call";
    case BITNET_E_DEVICE_FAILURE: return "BITNET_E_DEVICE_FAILURE: the device reported an error";
    case BITNET_E_INVALID_TYPE: return "BITNET_E_INVALID_TYPE: not a bitnet_type this call takes";
    case BITNET_E_INVALID_SHAPE: return "BITNET_E_INVALID_SHAPE: rows/cols the layout cannot hold";
    case BITNET_E_INEXACT_SCALE: return "BITNET_E_INEXACT_SCALE: a scale the target cannot hold exactly";
    case BITNET_E_INVALID_DATA: return "BITNET_E_INVALID_DATA: input values the operation cannot represent";
    case BITNET_E_OUT_OF_MEMORY: return "BITNET_E_OUT_OF_MEMORY: a working buffer could not be allocated";
    default: return "unknown bitnet status code";
  }
}

const char* bitnet_last_error(void) { return bitnet::LastError(); }

}  // extern "C"
