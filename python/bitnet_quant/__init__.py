"""bitnet_quant: NumPy bindings of libbitnet_quant (BitNet b1.58 ternary
weights in the layouts of real model files: ggml TQ1_0/TQ2_0/Q2_0, bitnet.cpp
I2_S, transformers' packed layout, BitNet-rs), over its C ABI with ctypes.

    import numpy as np, bitnet_quant as bq
    w = np.random.default_rng(0).standard_normal((4, 256), dtype=np.float32)
    t = bq.quantize(w, "TQ2_0", absmean=True)   # a Tensor: bytes, type, shape
    x = bq.dequantize(t)                         # float32 (4, 256)

Inputs are C-contiguous or not (copied then) float32, float16, or bfloat16
given as uint16 bit patterns; outputs are NumPy arrays. The library is
found through $BITNET_QUANT_LIBRARY, this package's directory, then the
system loader. Failing calls raise BitnetError with the library's status
and its message; bad shapes or dtypes are caught before the call
(ValueError, TypeError).
"""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _library

__version__ = "0.2.0"

__all__ = [
    "BitnetError", "Tensor", "TypeInfo", "TensorStats", "library_version", "library_version_number",
    "library_path", "cpu_targets_supported", "type_info", "tensor_size", "quantize", "dequantize",
    "transcode", "stats", "absmean", "quantize_i8s", "gemm", "gemm_act_type", "gemm_i8s", "gemm_blocks",
    "TYPES",
]

_lib = _library.open_library()

# Names of the bitnet_type values this package knows (bitnet_type_name;
# I8_S, an activation type, is reached through quantize_i8s).
TYPES = ("F32", "F16", "BF16", "Q8_0", "Q8_K", "IQ2_S", "TQ1_0", "TQ2_0", "I2_S", "Q2_0",
         "HF_BITNET", "BITNET_RS_I2S")

_TENSOR_ALLOW_SCALE_ROUNDING = 0x1
_TENSOR_UNIT_SCALE = 0x2
_TENSOR_CACHED_OUTPUT = 0x4
_TERNARIZE_ABSMEAN = 1


class BitnetError(Exception):
    """A failed library call: ``status`` (a negative BITNET_E_* value),
    ``name`` (the library's description of it) and ``message`` (the
    library's message for this call: which argument, which size)."""

    def __init__(self, status, message):
        self.status = status
        self.name = _lib.bitnet_status_string(status).decode()
        self.message = message
        super().__init__(f"{self.name} ({status}): {message}")


def _check(status):
    if status != 0:
        message = _lib.bitnet_last_error()
        raise BitnetError(status, message.decode(errors="replace") if message else "")


def library_version():
    """The loaded library's version string ("0.2.0")."""
    return _lib.bitnet_version_string().decode()


def library_version_number():
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return int(_lib.bitnet_version_number())


def library_path():
    """What was loaded: a path, or the name the system loader resolved."""
    return _lib.bitnet_quant_path


def cpu_targets_supported():
    """Names of the CPU code paths this machine runs, REFERENCE first."""
    mask = _lib.bitnet_cpu_targets_supported()
    return [_lib.bitnet_cpu_target_name(1 << bit).decode() for bit in range(32) if mask >> bit & 1]


def _type_id(name):
    raw = ctypes.c_int32()
    _check(_lib.bitnet_type_from_name(str(name).encode(), ctypes.byref(raw)))
    return raw.value


def _cpu_target(name):
    if name is None:
        return 0
    raw = ctypes.c_uint32()
    _check(_lib.bitnet_cpu_target_from_name(str(name).encode(), ctypes.byref(raw)))
    return raw.value


def _options(cpu_target=None, threads=0, absmean=False, group_size=0, threshold=0.0, block_size=0,
             allow_scale_rounding=False, unit_scale=False, cached_output=False):
    options = _library.TensorOptions()
    _check(_lib.bitnet_tensor_options_init(ctypes.byref(options), ctypes.sizeof(options)))
    options.cpu_target = _cpu_target(cpu_target)
    options.n_threads = int(threads)
    options.ternarize = _TERNARIZE_ABSMEAN if absmean else 0
    options.group_size = int(group_size)
    options.threshold = float(threshold)
    options.block_size = int(block_size)
    options.flags = ((_TENSOR_ALLOW_SCALE_ROUNDING if allow_scale_rounding else 0) |
                     (_TENSOR_UNIT_SCALE if unit_scale else 0) | (_TENSOR_CACHED_OUTPUT if cached_output else 0))
    return options


# NumPy dtype of an element buffer -> bitnet_type name (bf16 travels as uint16).
_ELEMENT_TYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.uint16): "BF16"}
_OUTPUT_DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}


def _matrix(x, what="input"):
    """(contiguous array, bitnet type name, rows, cols) of a 1-D or 2-D
    float32/float16/bfloat16-as-uint16 array."""
    x = np.asarray(x)
    if x.dtype not in _ELEMENT_TYPES:
        raise TypeError(f"{what} dtype is {x.dtype}; float32, float16 or uint16 (bfloat16 bits) expected")
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ValueError(f"{what} has {x.ndim} dimensions; a row vector or a rows x cols matrix expected")
    return np.ascontiguousarray(x), _ELEMENT_TYPES[x.dtype], x.shape[0], x.shape[1]


def _ptr(array):
    return ctypes.c_void_p(array.ctypes.data)


def _aligned_empty(shape, dtype, alignment=64):
    """An array whose data starts on an `alignment`-byte boundary: the
    library's decoders stream a large output themselves only there (a large
    buffer from malloc, as numpy's, sits 16 bytes past a page)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)


@dataclass(frozen=True)
class TypeInfo:
    name: str
    defined_by: str
    block_elements: int
    block_bytes: int
    tail_bytes: int
    cols_multiple: int
    rows_multiple: int
    elements_multiple: int
    ternary: bool
    can_quantize: bool
    bits_per_weight: float


def type_info(type_name):
    """What a layout is: block size and bytes, shape constraints, bits per weight."""
    info = _library.TypeInfo()
    info.struct_size = ctypes.sizeof(info)
    _check(_lib.bitnet_type_get_info(_type_id(type_name), ctypes.byref(info)))
    return TypeInfo(info.name.decode(), info.defined_by.decode(), info.block_elements, info.block_bytes,
                    info.tail_bytes, info.cols_multiple, info.rows_multiple, info.elements_multiple,
                    bool(info.ternary), bool(info.can_quantize), info.bits_per_weight)


def tensor_size(type_name, rows, cols):
    """Bytes of a rows x cols tensor of a layout; BitnetError (INVALID_SHAPE)
    names the constraint a shape breaks."""
    size = ctypes.c_size_t()
    _check(_lib.bitnet_tensor_size(_type_id(type_name), int(rows), int(cols), ctypes.byref(size)))
    return size.value


@dataclass(frozen=True)
class Tensor:
    """A rows x cols tensor in one layout: ``data`` (uint8) holds its bytes
    exactly as a model file stores them. ``block_size`` is BITNET_RS_I2S's
    (0: 32) and 0 for every other type."""

    type: str
    rows: int
    cols: int
    data: np.ndarray
    block_size: int = 0

    @property
    def shape(self):
        return (self.rows, self.cols)

    @classmethod
    def from_bytes(cls, data, type_name, rows, cols, block_size=0):
        """A tensor read from a file; its size must be exactly that of the
        type and shape."""
        data = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        if data.dtype != np.uint8 or data.ndim != 1:
            raise TypeError(f"tensor data is {data.dtype} with {data.ndim} dimensions; 1-D uint8 expected")
        type_name = _lib.bitnet_type_name(_type_id(type_name)).decode()
        expected = _size(type_name, rows, cols, block_size)
        if data.size != expected:
            raise ValueError(f"{type_name} {rows}x{cols} is {expected} bytes, not {data.size}")
        return cls(type_name, int(rows), int(cols), np.ascontiguousarray(data), int(block_size))


def _size(type_name, rows, cols, block_size):
    if type_name == "BITNET_RS_I2S" and block_size:
        # Codes (ceil(n/4) bytes), then one f32 scale per block.
        n = rows * cols
        return (n + 3) // 4 + 4 * (-(-n // block_size))
    return tensor_size(type_name, rows, cols)


def quantize(x, type_name, *, absmean=False, group_size=0, threshold=0.0, block_size=0, threads=0,
             cpu_target=None):
    """Encodes a rows x cols matrix (or a row vector) into a layout,
    bit-exact with the code that defines it (ggml's quantize_row_*_ref,
    bitnet.cpp, transformers, BitNet-rs). ``absmean=True`` ternarizes first
    (BitNet b1.58; ``group_size`` 0: per tensor, -1: per row, G: per G
    columns). ``cpu_target`` names a CPU code path ("AVX2"); None: the best.
    """
    x, src_type, rows, cols = _matrix(x)
    type_name = _lib.bitnet_type_name(_type_id(type_name)).decode()
    block_size = int(block_size) if type_name == "BITNET_RS_I2S" else 0
    out = np.zeros(_size(type_name, rows, cols, block_size), dtype=np.uint8)
    options = _options(cpu_target, threads, absmean, group_size, threshold, block_size)
    _check(_lib.bitnet_tensor_quantize(_type_id(type_name), ctypes.byref(options), _type_id(src_type), _ptr(x),
                                       rows, cols, _ptr(out), out.size))
    return Tensor(type_name, rows, cols, out, block_size)


def _tensor_options(tensor, **kw):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"a bitnet_quant.Tensor expected, not {type(tensor).__name__}")
    return _options(block_size=tensor.block_size, **kw)


def dequantize(tensor, dtype="float32", *, threads=0, cpu_target=None, cached_output=False):
    """Decodes a Tensor to a (rows, cols) array of ``dtype``: "float32",
    "float16" or "bfloat16" (returned as uint16 bit patterns), bit-exact
    with ggml's dequantize_row_*. An output of 8 MiB or more is written past
    the caches unless ``cached_output`` (the array is allocated on a 64-byte
    boundary, where the decoders stream it as they make it)."""
    key = np.dtype(dtype).name if dtype not in _OUTPUT_DTYPES else dtype
    if key not in _OUTPUT_DTYPES:
        raise TypeError(f"output dtype {dtype!r}; float32, float16 or bfloat16 expected")
    options = _tensor_options(tensor, cpu_target=cpu_target, threads=threads, cached_output=cached_output)
    out = _aligned_empty((tensor.rows, tensor.cols), _OUTPUT_DTYPES[key])
    dst_type = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[key]
    _check(_lib.bitnet_tensor_dequantize(_type_id(tensor.type), ctypes.byref(options), _ptr(tensor.data),
                                         tensor.data.size, tensor.rows, tensor.cols, _type_id(dst_type), _ptr(out),
                                         out.nbytes))
    return out


def transcode(tensor, type_name, *, allow_scale_rounding=False, unit_scale=False, block_size=0):
    """Re-packs a ternary tensor's codes into another ternary layout, with no
    float round trip. A code or scale the target cannot hold raises
    BitnetError (INVALID_DATA, INEXACT_SCALE unless allow_scale_rounding)."""
    options = _tensor_options(tensor, allow_scale_rounding=allow_scale_rounding, unit_scale=unit_scale)
    type_name = _lib.bitnet_type_name(_type_id(type_name)).decode()
    dst_block = int(block_size) if type_name == "BITNET_RS_I2S" else 0
    if tensor.type == "BITNET_RS_I2S" and type_name == "BITNET_RS_I2S" and dst_block != tensor.block_size:
        raise ValueError("BITNET_RS_I2S to another block size: dequantize and quantize instead")
    out = np.zeros(_size(type_name, tensor.rows, tensor.cols, dst_block), dtype=np.uint8)
    if tensor.type != "BITNET_RS_I2S":
        options.block_size = dst_block
    _check(_lib.bitnet_tensor_transcode(_type_id(type_name), ctypes.byref(options), _type_id(tensor.type),
                                        _ptr(tensor.data), tensor.data.size, tensor.rows, tensor.cols, _ptr(out),
                                        out.size))
    return Tensor(type_name, tensor.rows, tensor.cols, out, dst_block)


@dataclass(frozen=True)
class TensorStats:
    values: dict      # {-2: count, -1: ..., 0: ..., 1: ..., 2: ...}
    scales: int
    nonfinite_scales: int
    scale_min: float
    scale_max: float


def stats(tensor):
    """Value counts (-2..+2) and the scale range of a ternary tensor."""
    options = _tensor_options(tensor)
    s = _library.TensorStats()
    s.struct_size = ctypes.sizeof(s)
    _check(_lib.bitnet_tensor_stats_get(_type_id(tensor.type), ctypes.byref(options), _ptr(tensor.data),
                                        tensor.data.size, tensor.rows, tensor.cols, ctypes.byref(s)))
    return TensorStats({v: int(s.values[v + 2]) for v in range(-2, 3)}, s.scales, s.nonfinite_scales,
                       s.scale_min, s.scale_max)


def absmean(x, *, group_size=0, threshold=0.0, threads=0, cpu_target=None):
    """BitNet b1.58's absmean ternarization as the reference converters
    compute it: per unit (``group_size`` 0: the tensor, -1: a row, G: G
    columns of a row) alpha = max(mean|x|, 1e-5), q = round(x/alpha)
    clamped to [-1, 1]. Returns (codes int8 (rows, cols), alphas float32
    (one per unit)); q * alpha is the converters' ternarized weight."""
    x, src_type, rows, cols = _matrix(x)
    if group_size == 0:
        units = 1
    elif group_size == -1:
        units = rows
    elif group_size > 0:
        units = rows * -(-cols // group_size)
    else:
        units = 0  # the library names the bad group size
    codes = np.zeros((rows, cols), dtype=np.int8)
    alphas = np.zeros(units, dtype=np.float32)
    options = _options(cpu_target, threads, group_size=group_size, threshold=threshold)
    _check(_lib.bitnet_ternarize(ctypes.byref(options), _type_id(src_type), _ptr(x), rows, cols, _ptr(codes),
                                 codes.size, _ptr(alphas), alphas.size))
    return codes, alphas


def quantize_i8s(x, *, threads=0, cpu_target=None):
    """bitnet.cpp's activation quantizer, per row: (q int8 (rows, cols),
    scales float32 (rows,), sums int32 (rows,))."""
    x, src_type, rows, cols = _matrix(x)
    q = np.zeros((rows, cols), dtype=np.int8)
    scales = np.zeros(rows, dtype=np.float32)
    sums = np.zeros(rows, dtype=np.int32)
    options = _options(cpu_target, threads)
    _check(_lib.bitnet_quantize_i8s(ctypes.byref(options), _type_id(src_type), _ptr(x), rows, cols, _ptr(q), q.size,
                                    _ptr(scales), scales.size, _ptr(sums), sums.size))
    return q, scales, sums


_GEMM_ROW_RANGE = 0x1


def _gemm_options(w, x_type="F32", threads=0, cpu_target=None, row_range=None):
    if not isinstance(w, Tensor):
        raise TypeError(f"a bitnet_quant.Tensor expected, not {type(w).__name__}")
    options = _library.GemmOptions()
    _check(_lib.bitnet_gemm_options_init(ctypes.byref(options), ctypes.sizeof(options)))
    options.cpu_target = _cpu_target(cpu_target)
    options.n_threads = int(threads)
    options.x_type = _type_id(x_type)
    if row_range is not None:
        options.flags |= _GEMM_ROW_RANGE
        options.row_begin, options.row_end = (int(v) for v in row_range)
    return options


def gemm_act_type(type_name):
    """The activation type a weight layout's product quantizes x to:
    "I8_S" for I2_S, "Q8_K" for TQ1_0 and TQ2_0, "Q8_0" for Q2_0."""
    raw = ctypes.c_int32()
    _check(_lib.bitnet_gemm_act_type(_type_id(type_name), ctypes.byref(raw)))
    return "I8_S" if raw.value == 37 else _lib.bitnet_type_name(raw.value).decode()


def gemm(w, x, *, threads=0, cpu_target=None, row_range=None, out=None):
    """y = x . W^T for a weight Tensor W (rows x cols) in I2_S, TQ1_0, TQ2_0
    or Q2_0 and x (batch x cols; float32, float16 or bfloat16 as uint16):
    a (batch, rows) float32 array, bit for bit what the layout's reference
    engine computes. ``row_range=(begin, end)`` computes only those rows of
    W (into ``out``, a C-contiguous float32 (batch, rows) array, if given)."""
    options = _gemm_options(w, threads=threads, cpu_target=cpu_target, row_range=row_range)
    x, x_type, batch, cols = _matrix(x, "x")
    if cols != w.cols:
        raise ValueError(f"x has {cols} columns; the weight has {w.cols}")
    options.x_type = _type_id(x_type)
    if out is None:
        out = np.zeros((batch, w.rows), dtype=np.float32)
    elif out.dtype != np.float32 or out.shape != (batch, w.rows) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {(batch, w.rows)}")
    _check(_lib.bitnet_gemm(_type_id(w.type), _ptr(w.data), w.data.size, w.rows, w.cols, _ptr(x), batch, _ptr(out),
                            ctypes.byref(options)))
    return out


def gemm_i8s(w, q, scales, sums, *, threads=0, cpu_target=None):
    """An I2_S product with activations quantized once (quantize_i8s's q,
    scales and sums), for several weights sharing one input."""
    options = _gemm_options(w, threads=threads, cpu_target=cpu_target)
    q = np.ascontiguousarray(q, dtype=np.int8)
    scales = np.ascontiguousarray(scales, dtype=np.float32)
    sums = np.ascontiguousarray(sums, dtype=np.int32)
    if q.ndim != 2 or q.shape[1] != w.cols or scales.shape != (q.shape[0],) or sums.shape != (q.shape[0],):
        raise ValueError(f"q {q.shape}, scales {scales.shape}, sums {sums.shape} do not fit a weight of "
                         f"{w.cols} columns")
    out = np.zeros((q.shape[0], w.rows), dtype=np.float32)
    _check(_lib.bitnet_gemm_i8s(_ptr(w.data), w.data.size, w.rows, w.cols, _ptr(q), _ptr(scales), _ptr(sums),
                                q.shape[0], _ptr(out), ctypes.byref(options)))
    return out


def gemm_blocks(w, xq, *, threads=0, cpu_target=None):
    """A TQ1_0/TQ2_0 (Q8_K activations) or Q2_0 (Q8_0) product with the
    activations quantized once: xq is a Q8_K or Q8_0 Tensor (quantize)."""
    options = _gemm_options(w, threads=threads, cpu_target=cpu_target)
    if not isinstance(xq, Tensor) or xq.cols != w.cols:
        raise ValueError(f"xq must be a Tensor of {w.cols} columns")
    out = np.zeros((xq.rows, w.rows), dtype=np.float32)
    _check(_lib.bitnet_gemm_blocks(_type_id(w.type), _ptr(w.data), w.data.size, w.rows, w.cols, _ptr(xq.data),
                                   xq.data.size, xq.rows, _ptr(out), ctypes.byref(options)))
    return out
