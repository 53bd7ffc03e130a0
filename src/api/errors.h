// Status codes and the per-thread message of the last failing call.
#ifndef BITNET_API_ERRORS_H_
#define BITNET_API_ERRORS_H_

#include "bitnet_quant.h"

namespace bitnet {

// Records a printf-style message for bitnet_last_error() on this thread and
// returns `status`, so that failures read `return Fail(BITNET_E_..., "...")`.
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int Fail(int status, const char* format, ...);

// Records a message for bitnet_last_error() on a call that succeeds anyway:
// why it fell back to the CPU.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void Note(const char* format, ...);

const char* LastError();

}  // namespace bitnet

#endif  // BITNET_API_ERRORS_H_
