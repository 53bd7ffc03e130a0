#!/usr/bin/env python3
"""Copies the BitNet-rs golden vectors the tests use into ffi_tests/golden/.

Run from the repository root with the shared reference material beside it:
    python3 tools/import_golden.py ../shared/crossval/bitnet-rs
It copies the safetensors files unchanged, checks them against the sha256
sums in the source README, and writes ffi_tests/golden/index.tsv, one line
per (file, case) of the manifest: file, case, and the error BitNet-rs
returned ("-" when it returned tensors).
"""
import hashlib
import json
import pathlib
import re
import shutil
import sys

FILES = [
    "inputs.safetensors",
    "quantizer_i2s_scalar_bs32.safetensors",
    "quantizer_i2s_scalar_bs64.safetensors",
    "quantizer_i2s_scalar_bs128.safetensors",
    "quantizer_i2s_scalar_bs256.safetensors",
    "quantizer_tl1_scalar_bs64.safetensors",
    "quantizer_tl2_scalar_bs64.safetensors",
    "quantizer_tl2_scalar_bs128.safetensors",
    "quantizer_tl2_scalar_bs256.safetensors",
    "kernel_i2s_fallback.safetensors",
    "kernel_tl1_fallback.safetensors",
    "kernel_tl2_fallback.safetensors",
    "matmul_i2s.safetensors",
]


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/crossval/bitnet-rs")
    dst = pathlib.Path(__file__).resolve().parent.parent / "ffi_tests" / "golden"
    dst.mkdir(parents=True, exist_ok=True)
    sums = dict(re.findall(r"^(\S+\.safetensors)\s+([0-9a-f]{64})$",
                           (src / "README.md").read_text(), re.M))
    for name in FILES:
        data = (src / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != sums[name]:
            raise SystemExit(f"{name}: sha256 differs from the README")
        shutil.copyfile(src / name, dst / name)
    manifest = json.loads((src / "manifest.json").read_text())
    rows = ["# file\tcase\terror"]
    for e in manifest["entries"]:
        if e["kind"] == "output" and e["file"] in FILES:
            error = e.get("error", "-").replace("\t", " ")
            rows.append(f'{e["file"]}\t{e["case"]}\t{error}')
    (dst / "index.tsv").write_text("\n".join(rows) + "\n")
    (dst / "SHA256SUMS").write_text("".join(f"{sums[n]}  {n}\n" for n in FILES))
    print(f"copied {len(FILES)} files and {len(rows) - 1} cases to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
