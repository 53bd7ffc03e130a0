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

// What the CPU and the device-pointer entry points do differently around
// the shared checks of a quantize, dequantize or transcode call.
class TensorEntry {
 public:
  // The names of the call's buffer arguments ("src"/"dst", "d_src"/"d_dst").
  const char* const src_name;
  const char* const dst_name;

  // type -> its layout for one argument (the GPU takes fewer types).
  virtual int ResolveType(const char* what, bitnet_type type, Role role,
                          const Layout** layout) const = 0;
  // options (NULL = defaults), checked once the types are known; sets the
  // rs_block of TensorBytes.
  virtual int ResolveOptions(const bitnet_tensor_options* options, uint32_t* rs_block) = 0;
  // Quantize only: the options against the destination and the shape.
  virtual int CheckQuantizeShape(const Layout& dst, const TensorShape& shape) const;

 protected:
  TensorEntry(const char* src, const char* dst) : src_name(src), dst_name(dst) {}
  TensorEntry(const TensorEntry&) = delete;
  TensorEntry& operator=(const TensorEntry&) = delete;
  ~TensorEntry() = default;
};

// A call whose arguments have passed: its layouts and shape.
struct TensorCall {
  const Layout* dst = nullptr;
  const Layout* src = nullptr;
  TensorShape shape{};
};

// Every argument check of bitnet_tensor_quantize / _dequantize / _transcode
// and their device-pointer twins, in one order (types, options, shape,
// lengths, buffers, capacity, overlap); the arguments as the C API orders
// them.
int CheckQuantizeCall(TensorEntry& entry, bitnet_type dst_type, const bitnet_tensor_options* options,
                      bitnet_type src_type, const void* src, int64_t rows, int64_t cols,
                      const void* dst, size_t dst_len, TensorCall* call);
int CheckDequantizeCall(TensorEntry& entry, bitnet_type src_type,
                        const bitnet_tensor_options* options, const void* src, size_t src_len,
                        int64_t rows, int64_t cols, bitnet_type dst_type, const void* dst,
                        size_t dst_len, TensorCall* call);
int CheckTranscodeCall(TensorEntry& entry, bitnet_type dst_type, const bitnet_tensor_options* options,
                       bitnet_type src_type, const void* src, size_t src_len, int64_t rows,
                       int64_t cols, const void* dst, size_t dst_len, TensorCall* call);

}  // namespace bitnet

#endif  // BITNET_API_TENSOR_CHECKS_H_
