#!/usr/bin/env python3
"""bitnet_ternarize against the BitNet converters' own expression, run by
Debian's python3-torch on real-shaped tensors (BitNet 2B-4T's 2560x2560,
6912x2560, 2560x6912, 640x2560; f32 and bf16 inputs):

    s = 1 / w.abs().mean().clamp(min=1e-5);  q = (w * s).round().clamp(-1, 1)

torch sums |w| in float32 in an order of its own; this library sums in
double in a fixed order and rounds once. The test checks that
  * our mean is the exactly rounded mean (math.fsum, then one rounding), and
  * every code that differs from torch's is explained by the two scales: the
    element's |w*s| lies on one side of 0.5 under torch's s and on the other
    under ours,
and prints how often the scale and the codes differ (the README's table).
Usage: test_absmean_torch.py LIBRARY_PATH"""
import ctypes
import math
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # Debian's python3-numpy / python3-torch
    if os.environ.get("CI") == "true":
        print(f"FAIL: CI=true and {e.name} is missing (tools/setup_debian.sh installs it)")
        sys.exit(1)
    print(f"SKIPPED: {e.name} is not installed")
    sys.exit(77)

TYPE_F32, TYPE_BF16 = 0, 30


class TensorOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("cpu_target", ctypes.c_uint32), ("n_threads", ctypes.c_int32),
                ("ternarize", ctypes.c_int32), ("block_size", ctypes.c_uint32),
                ("group_size", ctypes.c_int64), ("threshold", ctypes.c_float),
                ("reserved", ctypes.c_uint32)]


def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.bitnet_ternarize.argtypes = [ctypes.POINTER(TensorOptions), ctypes.c_int32, ctypes.c_void_p,
                                     ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_size_t]
    lib.bitnet_last_error.restype = ctypes.c_char_p
    options = TensorOptions(struct_size=ctypes.sizeof(TensorOptions), n_threads=2)
    if lib.bitnet_tensor_options_init(ctypes.byref(options), ctypes.sizeof(TensorOptions)) != 0:
        print("FAIL: bitnet_tensor_options_init refuses this struct layout")
        return 1
    options.n_threads = 2
    failures = 0
    rows = []
    shapes = [(2560, 2560), (6912, 2560), (2560, 6912), (640, 2560)]
    for seed, (m, k) in enumerate(shapes):
        for dtype in (torch.float32, torch.bfloat16):
            gen = torch.Generator().manual_seed(1000 + seed)
            # LLM-like weights: N(0, 0.02) with a few outliers.
            w = torch.randn(m, k, generator=gen) * 0.02
            w[torch.rand(m, k, generator=gen) < 1e-4] *= 40
            w = w.to(dtype)
            wf = w.float()
            s_torch = 1 / wf.abs().mean().clamp(min=1e-5)
            q_torch = (wf * s_torch).round().clamp(-1, 1).to(torch.int8)

            raw = w.view(torch.int16).numpy() if dtype == torch.bfloat16 else w.numpy()
            codes = np.empty((m, k), dtype=np.int8)
            alpha = ctypes.c_float()
            status = lib.bitnet_ternarize(ctypes.byref(options), TYPE_BF16 if dtype == torch.bfloat16 else TYPE_F32,
                                          raw.ctypes.data, m, k, codes.ctypes.data, codes.size,
                                          ctypes.byref(alpha), 1)
            if status != 0:
                print(f"FAIL: bitnet_ternarize {m}x{k}: {status} {lib.bitnet_last_error()}")
                return 1
            # Our s is the exactly rounded mean's: fsum is exact, then one rounding
            # to double and one to float32 (the double rounding cannot move a value
            # that is not within 2^-53 of a float32 rounding boundary).
            a = np.abs(wf.numpy()).astype(np.float64).ravel()
            mean_exact = np.float32(math.fsum(a) / a.size)
            s_exact = np.float32(1) / max(mean_exact, np.float32(1e-5))
            alpha_exact = np.float32(1) / s_exact
            if np.float32(alpha.value) != alpha_exact:
                print(f"FAIL: {m}x{k} {dtype}: alpha {alpha.value!r}, the exact mean gives {alpha_exact!r}")
                failures += 1
            s_ours = s_exact
            q_t = q_torch.numpy()
            differ = np.nonzero(codes != q_t)
            n_diff = differ[0].size
            # Each differing code must sit between the two scales' thresholds.
            x = wf.numpy()[differ]
            y_t = np.abs(x * np.float32(s_torch.item()))
            y_o = np.abs(x * s_ours)
            unexplained = int(np.sum((y_t > 0.5) == (y_o > 0.5)))
            if unexplained:
                print(f"FAIL: {m}x{k} {dtype}: {unexplained} codes differ from torch's without a scale difference")
                failures += 1
            ulps = abs(int(np.float32(s_torch.item()).view(np.int32)) - int(s_ours.view(np.int32)))
            rows.append((f"{m}x{k}", "bf16" if dtype == torch.bfloat16 else "f32", ulps, n_diff, m * k))
    print("shape      input  scale differs (ulps)  codes differing")
    for shape, dt, ulps, n_diff, n in rows:
        print(f"{shape:10} {dt:5}  {ulps:>20}  {n_diff:>8} of {n} ({100.0 * n_diff / n:.5f} %)")
    print(f"absmean vs torch: {len(rows)} tensors, {sum(1 for r in rows if r[2])} with another scale, "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
