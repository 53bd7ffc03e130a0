// Argument checks of the tensor-layout entry points (CPU and device
// pointers): which types an argument takes, the shape and byte size of a
// tensor, buffers and their lengths. Each returns BITNET_OK or records a
// message naming the argument and returns a negative status.
#ifndef BITNET_API_TENSOR_CHECKS_H_
#define BITNET_API_TENSOR_CHECKS_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/layouts.h"
#include "tensor/tensor_ops.h"

namespace bitnet {

// NULL options mean these.
extern const bitnet_tensor_options kDefaultTensorOptions;
// Every field of a tensor options struct in its range (struct_size first).
int CheckTensorOptionFields(const bitnet_tensor_options& o);

// Which types a call takes in one argument.
enum class Role { kElement, kQuantizeDestination, kDecodable, kTernary };

// type -> its layout, if `role` allows it (BITNET_E_INVALID_TYPE otherwise).
int ResolveType(const char* what, bitnet_type type, Role role, const Layout** layout);

// rows x cols of layout l: the shape checks and the byte size.
int TensorBytes(const Layout& l, int64_t rows, int64_t cols, uint32_t rs_block, TensorShape* shape,
                size_t* bytes);

// A buffer of a call: NULL only when empty, aligned to its element.
int CheckBuffer(const char* name, const void* p, size_t bytes, size_t alignment);
// The alignment a buffer of layout l needs (element types: their size).
size_t AlignmentOf(const Layout& l);
// A capacity at least `need` bytes / a length exactly `need` bytes.
int CheckCapacity(const char* name, size_t have, size_t need, const Layout& l, const TensorShape& s);
int CheckExact(const char* name, size_t have, size_t need, const Layout& l, const TensorShape& s);

}  // namespace bitnet

#endif  // BITNET_API_TENSOR_CHECKS_H_
