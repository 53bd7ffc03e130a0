"""Finds and opens libbitnet_quant, and declares the C functions this
package calls (include/bitnet_quant.h) for ctypes."""
import ctypes
import ctypes.util
import os
from pathlib import Path

LIBRARY_ENV = "BITNET_QUANT_LIBRARY"
SONAME = "libbitnet_quant.so.0"

_c_int, _c_uint, _size_t, _i64 = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_int64
_void_p, _char_p = ctypes.c_void_p, ctypes.c_char_p


class TensorOptions(ctypes.Structure):
    """bitnet_tensor_options (its layout is checked by the tests against
    the header, through the library's own bitnet_tensor_options_init)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu_target", ctypes.c_uint32),
        ("n_threads", ctypes.c_int32),
        ("ternarize", ctypes.c_int32),
        ("block_size", ctypes.c_uint32),
        ("group_size", ctypes.c_int64),
        ("threshold", ctypes.c_float),
        ("reserved", ctypes.c_uint32),
    ]


class TypeInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("name", _char_p),
        ("defined_by", _char_p),
        ("block_elements", ctypes.c_int64),
        ("block_bytes", ctypes.c_uint64),
        ("tail_bytes", ctypes.c_uint64),
        ("cols_multiple", ctypes.c_int64),
        ("rows_multiple", ctypes.c_int64),
        ("elements_multiple", ctypes.c_int64),
        ("ternary", ctypes.c_int32),
        ("can_quantize", ctypes.c_int32),
        ("bits_per_weight", ctypes.c_double),
    ]


class TensorStats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("values", ctypes.c_uint64 * 5),
        ("scales", ctypes.c_uint64),
        ("nonfinite_scales", ctypes.c_uint64),
        ("scale_min", ctypes.c_float),
        ("scale_max", ctypes.c_float),
    ]


class GemmOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu_target", ctypes.c_uint32),
        ("n_threads", ctypes.c_int32),
        ("x_type", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("row_begin", ctypes.c_int64),
        ("row_end", ctypes.c_int64),
    ]


_P = ctypes.POINTER
# name: (restype, argtypes)
_FUNCTIONS = {
    "bitnet_status_string": (_char_p, [_c_int]),
    "bitnet_last_error": (_char_p, []),
    "bitnet_version_number": (_c_uint, []),
    "bitnet_version_string": (_char_p, []),
    "bitnet_cpu_targets_supported": (ctypes.c_uint32, []),
    "bitnet_cpu_target_name": (_char_p, [ctypes.c_uint32]),
    "bitnet_cpu_target_from_name": (_c_int, [_char_p, _P(ctypes.c_uint32)]),
    "bitnet_last_cpu_target": (ctypes.c_uint32, []),
    "bitnet_type_get_info": (_c_int, [ctypes.c_int32, _P(TypeInfo)]),
    "bitnet_type_name": (_char_p, [ctypes.c_int32]),
    "bitnet_type_from_name": (_c_int, [_char_p, _P(ctypes.c_int32)]),
    "bitnet_tensor_options_init": (_c_int, [_P(TensorOptions), _size_t]),
    "bitnet_tensor_size": (_c_int, [ctypes.c_int32, _i64, _i64, _P(_size_t)]),
    "bitnet_tensor_quantize": (
        _c_int, [ctypes.c_int32, _P(TensorOptions), ctypes.c_int32, _void_p, _i64, _i64, _void_p, _size_t]),
    "bitnet_tensor_dequantize": (
        _c_int,
        [ctypes.c_int32, _P(TensorOptions), _void_p, _size_t, _i64, _i64, ctypes.c_int32, _void_p, _size_t]),
    "bitnet_tensor_transcode": (
        _c_int,
        [ctypes.c_int32, _P(TensorOptions), ctypes.c_int32, _void_p, _size_t, _i64, _i64, _void_p, _size_t]),
    "bitnet_tensor_stats_get": (
        _c_int, [ctypes.c_int32, _P(TensorOptions), _void_p, _size_t, _i64, _i64, _P(TensorStats)]),
    "bitnet_ternarize": (
        _c_int,
        [_P(TensorOptions), ctypes.c_int32, _void_p, _i64, _i64, _void_p, _size_t, _void_p, _size_t]),
    "bitnet_quantize_i8s": (
        _c_int,
        [_P(TensorOptions), ctypes.c_int32, _void_p, _i64, _i64, _void_p, _size_t, _void_p, _size_t,
         _void_p, _size_t]),
    "bitnet_gemm_options_init": (_c_int, [_P(GemmOptions), _size_t]),
    "bitnet_gemm": (
        _c_int, [ctypes.c_int32, _void_p, _size_t, _i64, _i64, _void_p, _i64, _void_p, _P(GemmOptions)]),
    "bitnet_gemm_act_type": (_c_int, [ctypes.c_int32, _P(ctypes.c_int32)]),
    "bitnet_gemm_i8s": (
        _c_int, [_void_p, _size_t, _i64, _i64, _void_p, _void_p, _void_p, _i64, _void_p, _P(GemmOptions)]),
    "bitnet_gemm_blocks": (
        _c_int,
        [ctypes.c_int32, _void_p, _size_t, _i64, _i64, _void_p, _size_t, _i64, _void_p, _P(GemmOptions)]),
}


def _candidates():
    """Where to look, in order: $BITNET_QUANT_LIBRARY, this package's
    directory, then the system loader (LD_LIBRARY_PATH, ldconfig)."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [("$" + LIBRARY_ENV, env)]
    here = Path(__file__).resolve().parent
    found = [("package directory", str(p)) for p in sorted(here.glob("libbitnet_quant.so*"))]
    found.append(("system loader", SONAME))
    system = ctypes.util.find_library("bitnet_quant")
    if system and system != SONAME:
        found.append(("system loader", system))
    return found


def open_library():
    errors = []
    for source, path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{source} ({path}): {e}")
            if source.startswith("$"):
                break  # an explicit choice is not second-guessed
            continue
        missing = [name for name in _FUNCTIONS if not hasattr(lib, name)]
        if missing:
            raise OSError(f"{path} lacks {', '.join(missing)}: not a libbitnet_quant of this version")
        for name, (restype, argtypes) in _FUNCTIONS.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        lib.bitnet_quant_path = path
        return lib
    raise OSError(
        "libbitnet_quant not found; set " + LIBRARY_ENV + " to its path, or install it where the "
        "system loader finds it. Tried: " + "; ".join(errors))
