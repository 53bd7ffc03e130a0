"""The Python package against the library: layouts round-trip, element types
agree, bad input raises with the library's message, and absmean matches the
formula of the transformers/HF BitNet converters computed by torch."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import bitnet_quant as bq

TERNARY = ["TQ1_0", "TQ2_0", "Q2_0", "I2_S", "HF_BITNET", "BITNET_RS_I2S"]


def weights(rows, cols, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32) * 0.02


def exact_weights(rows, cols):
    """Values float16 and bfloat16 hold exactly (multiples of 1/64 below 4)."""
    i = np.arange(rows * cols)
    return (((i * 37) % 257 - 128) / 64.0).astype(np.float32).reshape(rows, cols)


def to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns, rounding to nearest even (finite x)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def test_versions(header_version):
    assert bq.library_version() == header_version
    assert bq.__version__ == header_version
    major, minor, patch = (int(v) for v in header_version.split("."))
    assert bq.library_version_number() == major * 10000 + minor * 100 + patch


def test_options_struct_matches_the_library():
    options = bq._library.TensorOptions()
    assert ctypes.sizeof(options) == 40  # BITNET_TENSOR_OPTIONS_SIZE_V1
    assert bq._lib.bitnet_tensor_options_init(ctypes.byref(options), ctypes.sizeof(options)) == 0
    assert options.struct_size == 40 and options.group_size == 0
    assert ctypes.sizeof(bq._library.TensorStats) == 72
    assert ctypes.sizeof(bq._library.TypeInfo) == 88


def test_library_from_the_environment_variable_is_not_second_guessed(tmp_path):
    missing = tmp_path / "libbitnet_quant.so.0"
    env = dict(os.environ, BITNET_QUANT_LIBRARY=str(missing))
    run = subprocess.run([sys.executable, "-c", "import bitnet_quant"], env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert str(missing) in run.stderr and "BITNET_QUANT_LIBRARY" in run.stderr


def test_library_from_the_package_directory_then_the_system_loader(tmp_path):
    """Without $BITNET_QUANT_LIBRARY: a copy next to the package comes first,
    then what the system loader finds (here through LD_LIBRARY_PATH)."""
    import shutil
    from pathlib import Path

    package = Path(bq.__file__).parent
    lib = Path(bq.library_path()).resolve()
    copy = tmp_path / "bitnet_quant"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("libbitnet_quant.so*", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("BITNET_QUANT_LIBRARY", "LD_LIBRARY_PATH")}
    show = [sys.executable, "-c", "import bitnet_quant; print(bitnet_quant.library_path())"]
    # Neither: the system loader has no libbitnet_quant (this machine installs none).
    run = subprocess.run(show, env=env, cwd=tmp_path, capture_output=True, text=True)
    if run.returncode == 0:
        assert run.stdout.strip() == "libbitnet_quant.so.0"  # an installed copy
    else:
        assert "libbitnet_quant not found" in run.stderr
    # The system loader through LD_LIBRARY_PATH.
    run = subprocess.run(show, env=dict(env, LD_LIBRARY_PATH=str(lib.parent)), cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout.strip() == "libbitnet_quant.so.0", run.stderr
    # A copy in the package directory wins over the system loader.
    shutil.copy(lib, copy / "libbitnet_quant.so.0")
    run = subprocess.run(show, env=dict(env, LD_LIBRARY_PATH=str(lib.parent)), cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout.strip() == str(copy / "libbitnet_quant.so.0"), run.stderr


@pytest.mark.parametrize("type_name", TERNARY + ["Q8_0"])
def test_quantize_dequantize_round_trip(type_name):
    w = weights(8, 512)
    t = bq.quantize(w, type_name, absmean=True)
    assert (t.type, t.shape, t.data.dtype) == (type_name, (8, 512), np.uint8)
    assert t.data.size == bq.tensor_size(type_name, 8, 512)
    x = bq.dequantize(t)
    assert x.shape == (8, 512) and x.dtype == np.float32
    # Absmean ternary values: 0 or +-alpha with one alpha for the tensor.
    codes, alphas = bq.absmean(w)
    if type_name != "Q8_0":
        np.testing.assert_allclose(x, codes * alphas[0], rtol=1e-3)  # f16 scales round alpha
    again = bq.Tensor.from_bytes(t.data.tobytes(), type_name, 8, 512)
    assert np.array_equal(bq.dequantize(again), x)


def test_float16_and_bfloat16_agree_with_float32():
    w = exact_weights(4, 256)
    for type_name in ["TQ1_0", "TQ2_0", "I2_S", "Q8_0"]:
        a = bq.quantize(w, type_name, absmean=True, cpu_target="REFERENCE")
        assert np.array_equal(a.data, bq.quantize(w.astype(np.float16), type_name, absmean=True).data)
        assert np.array_equal(a.data, bq.quantize(to_bf16_bits(w), type_name, absmean=True).data)
        x = bq.dequantize(a)
        assert np.array_equal(bq.dequantize(a, "float16"), x.astype(np.float16))
        assert np.array_equal(bq.dequantize(a, "bfloat16"), to_bf16_bits(x))


def test_every_cpu_target_writes_the_same_bytes():
    w = weights(16, 256, seed=3)
    targets = bq.cpu_targets_supported()
    assert targets[0] == "REFERENCE"
    for type_name in TERNARY:
        ref = bq.quantize(w, type_name, absmean=True, cpu_target="REFERENCE")
        for target in targets[1:]:
            assert np.array_equal(bq.quantize(w, type_name, absmean=True, cpu_target=target).data, ref.data), target


def test_transcode_keeps_codes_and_stats_count_them():
    w = weights(8, 512, seed=1)
    tq2 = bq.quantize(w, "TQ2_0", absmean=True)
    x = bq.dequantize(tq2)
    s = bq.stats(tq2)
    assert sum(s.values.values()) == w.size and s.values[-2] == s.values[2] == 0
    for type_name in ["TQ1_0", "I2_S", "Q2_0", "HF_BITNET"]:
        other = bq.transcode(tq2, type_name)
        assert np.array_equal(bq.dequantize(other), x), type_name
        assert np.array_equal(bq.transcode(other, "TQ2_0").data, tq2.data), type_name


def test_bad_input_raises_with_the_library_message():
    with pytest.raises(bq.BitnetError) as e:
        bq.quantize(weights(2, 100), "TQ2_0")
    assert e.value.status == -16 and "256" in e.value.message  # BITNET_E_INVALID_SHAPE
    with pytest.raises(bq.BitnetError) as e:
        bq.quantize(weights(1, 256), "NOPE")
    assert e.value.status == -15 and "NOPE" in str(e.value)
    with pytest.raises(bq.BitnetError) as e:
        bq.quantize(weights(1, 256), "TQ2_0", cpu_target="PENTIUM")
    assert "PENTIUM" in e.value.message
    with pytest.raises(bq.BitnetError) as e:
        bq.transcode(bq.quantize(weights(1, 256), "Q8_0"), "TQ2_0")
    assert e.value.status == -15
    with pytest.raises(TypeError, match="float64"):
        bq.quantize(weights(1, 256).astype(np.float64), "TQ2_0")
    with pytest.raises(ValueError, match="3 dimensions"):
        bq.quantize(np.zeros((2, 2, 256), np.float32), "TQ2_0")
    with pytest.raises(ValueError, match="66 bytes, not 65"):
        bq.Tensor.from_bytes(b"\0" * 65, "TQ2_0", 1, 256)
    with pytest.raises(TypeError, match="output dtype"):
        bq.dequantize(bq.quantize(weights(1, 256), "TQ2_0"), np.int8)
    with pytest.raises(TypeError, match="Tensor expected"):
        bq.dequantize(np.zeros(66, np.uint8))


def test_non_contiguous_input_is_read_as_its_values():
    w = weights(256, 8).T  # a transposed view
    assert not w.flags.c_contiguous
    assert np.array_equal(bq.quantize(w, "TQ2_0").data, bq.quantize(w.copy(), "TQ2_0").data)


def test_bitnet_rs_layout_keeps_its_block_size():
    w = weights(3, 128)
    t = bq.quantize(w, "BITNET_RS_I2S", block_size=64)
    assert t.block_size == 64 and t.data.size == 3 * 128 // 4 + 4 * 6
    assert bq.dequantize(t).shape == (3, 128)
    with pytest.raises(ValueError):
        bq.Tensor.from_bytes(t.data, "BITNET_RS_I2S", 3, 128)  # block 32 would need 48 scales


def test_absmean_matches_the_hf_formula_computed_by_torch():
    torch = pytest.importorskip("torch") if os.environ.get("CI") != "true" else __import__("torch")
    for rows, cols, seed in [(64, 256, 0), (128, 1024, 1), (4, 5, 2)]:
        w = weights(rows, cols, seed)
        tw = torch.from_numpy(w)
        # transformers' BitNet weight quantizer (offline, per tensor).
        scale = 1.0 / tw.abs().mean().clamp(min=1e-5)
        q = (tw * scale).round().clamp(-1, 1)
        codes, alphas = bq.absmean(w)
        assert alphas.shape == (1,)
        np.testing.assert_allclose(alphas[0], (1.0 / scale).item(), rtol=2e-7)
        same = codes == q.numpy().astype(np.int8)
        # torch's float32 mean may differ from the library's correctly rounded
        # one in the last bit: only elements on a rounding edge may differ.
        edge = np.abs(np.abs(w * scale.item()) - 0.5) < 1e-5
        assert np.all(same | edge), np.argwhere(~same)[:5]
        # The HF_BITNET layout decodes to the converters' q / scale.
        hf = bq.dequantize(bq.quantize(w, "HF_BITNET", absmean=True))
        np.testing.assert_allclose(hf, (q / scale).numpy(), rtol=2e-7, atol=0)


def test_absmean_groups():
    w = weights(4, 64)
    codes, alphas = bq.absmean(w, group_size=-1)
    np.testing.assert_allclose(alphas, np.maximum(np.abs(w).astype(np.float64).mean(axis=1), 1e-5), rtol=1e-6)
    codes, alphas = bq.absmean(w, group_size=16)
    assert alphas.shape == (16,)
    np.testing.assert_allclose(alphas, np.abs(w).astype(np.float64).reshape(16, 16).mean(axis=1), rtol=1e-6)
    assert set(np.unique(codes)) <= {-1, 0, 1}


def test_quantize_i8s_follows_bitnet_cpp():
    x = weights(4, 128, seed=5) * 50
    q, scales, sums = bq.quantize_i8s(x)
    expect_scales = (127.0 / np.maximum(np.abs(x).astype(np.float64).max(axis=1), 1e-5)).astype(np.float32)
    assert np.array_equal(scales, expect_scales)
    assert np.array_equal(sums, q.astype(np.int32).sum(axis=1))
    expect_q = np.clip(np.rint(x * expect_scales[:, None]), -128, 127)
    assert np.abs(q.astype(np.int32) - expect_q).max() <= 1
    assert np.mean(q == expect_q) > 0.99


def test_type_info():
    info = bq.type_info("tq2_0")
    assert (info.name, info.defined_by, info.block_elements, info.block_bytes) == ("TQ2_0", "ggml", 256, 66)
    assert info.ternary and info.can_quantize
    assert set(bq.TYPES) <= {bq.type_info(t).name for t in bq.TYPES}


def test_large_outputs_stream_to_the_same_values():
    # 2048 x 1024 floats: 8 MiB, written past the caches unless cached_output.
    t = bq.quantize(weights(2048, 1024), "TQ2_0", absmean=True)
    streamed = bq.dequantize(t, threads=2)
    assert streamed.ctypes.data % 64 == 0 and streamed.shape == (2048, 1024) and streamed.dtype == np.float32
    assert np.array_equal(streamed.view(np.uint32), bq.dequantize(t, cached_output=True).view(np.uint32))
