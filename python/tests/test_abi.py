"""The ctypes declarations of bitnet_quant._library against
include/bitnet_quant.h: every declared function's parameter and return types
as the header spells them, and every struct's size and field offsets as the
C compiler lays them out."""
import ctypes
import os
import re
import subprocess

import pytest

from bitnet_quant import _library
from conftest import REPO

HEADER = REPO / "include" / "bitnet_quant.h"

# C type (as the header spells it) -> the ctypes type that passes it.
C_TYPES = {
    "int": ctypes.c_int, "unsigned": ctypes.c_uint, "size_t": ctypes.c_size_t, "int64_t": ctypes.c_int64,
    "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "bitnet_type": ctypes.c_int32,
    "bitnet_cpu_target": ctypes.c_uint32, "const char*": ctypes.c_char_p, "void": None,
    "const void*": ctypes.c_void_p, "void*": ctypes.c_void_p, "int8_t*": ctypes.c_void_p,
    "float*": ctypes.c_void_p, "int32_t*": ctypes.c_void_p, "size_t*": ctypes.POINTER(ctypes.c_size_t),
    "bitnet_type*": ctypes.POINTER(ctypes.c_int32), "bitnet_cpu_target*": ctypes.POINTER(ctypes.c_uint32),
    "bitnet_tensor_options*": ctypes.POINTER(_library.TensorOptions),
    "const bitnet_tensor_options*": ctypes.POINTER(_library.TensorOptions),
    "bitnet_type_info*": ctypes.POINTER(_library.TypeInfo),
    "bitnet_tensor_stats*": ctypes.POINTER(_library.TensorStats),
    "const float*": ctypes.c_void_p, "const int8_t*": ctypes.c_void_p,
    "const int32_t*": ctypes.c_void_p,
    "bitnet_gemm_options*": ctypes.POINTER(_library.GemmOptions),
    "const bitnet_gemm_options*": ctypes.POINTER(_library.GemmOptions),
}


def prototypes():
    text = re.sub(r"/\*.*?\*/", " ", HEADER.read_text(), flags=re.S)
    found = {}
    for m in re.finditer(r"BITNET_API\s+([^;(]*?)\s*\b(bitnet_\w+)\s*\(([^)]*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3)
        params = [] if params.strip() in ("", "void") else [p.strip() for p in params.split(",")]
        # Drop the parameter name; keep the type with '*' attached.
        types = [re.sub(r"\s*\*\s*", "*", re.sub(r"\s+\w+$", "", p)).strip() for p in params]
        found[name] = (re.sub(r"\s*\*\s*", "*", ret).strip(), types)
    return found


@pytest.mark.parametrize("name", sorted(_library._FUNCTIONS))
def test_function_matches_the_header(name):
    header = prototypes()
    assert name in header, f"{name} is not in {HEADER.name}"
    ret, params = header[name]
    restype, argtypes = _library._FUNCTIONS[name]
    assert C_TYPES[ret] is restype, f"{name} returns {ret}"
    assert len(argtypes) == len(params), f"{name}({', '.join(params)})"
    for i, (c_type, declared) in enumerate(zip(params, argtypes)):
        assert C_TYPES[c_type] is declared or (
            # Element buffers are passed as void*, whatever their type.
            declared is ctypes.c_void_p and c_type.endswith("*")), f"{name} parameter {i}: {c_type}"


def test_struct_layouts_match_the_compiler(tmp_path):
    structs = {"bitnet_tensor_options": _library.TensorOptions, "bitnet_type_info": _library.TypeInfo,
               "bitnet_tensor_stats": _library.TensorStats, "bitnet_gemm_options": _library.GemmOptions}
    lines = []
    for c_name, py in structs.items():
        lines.append(f'printf("{c_name} size %zu\\n", sizeof({c_name}));')
        for field, _ in py._fields_:
            lines.append(f'printf("{c_name} {field} %zu\\n", offsetof({c_name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text("#include <stddef.h>\n#include <stdio.h>\n#include <bitnet_quant.h>\nint main(void) {\n"
                      + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([os.environ.get("CC", "cc"), "-I", str(HEADER.parent), str(source), "-o", str(exe)], check=True)
    c = dict(line.rsplit(" ", 1) for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                             check=True).stdout.splitlines())
    for c_name, py in structs.items():
        assert int(c[f"{c_name} size"]) == ctypes.sizeof(py), c_name
        for field, _ in py._fields_:
            assert int(c[f"{c_name} {field}"]) == getattr(py, field).offset, f"{c_name}.{field}"
        # Every C field is declared.
        body = re.search(r"typedef struct " + c_name + r" \{(.*?)\}", HEADER.read_text(), re.S).group(1)
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        assert body.count(";") == len(py._fields_), c_name
