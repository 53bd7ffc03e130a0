"""Ternary products: y = x . W^T near numpy's float product of the decoded
weights, and bit-identical across entry points, element types, row ranges
and CPU targets."""
import numpy as np
import pytest

import bitnet_quant as bq

WEIGHTS = ["I2_S", "TQ1_0", "TQ2_0", "Q2_0"]
ROWS, COLS, BATCH = 16, 512, 3


def exact(shape, seed):
    """Values float16 and bfloat16 hold exactly (multiples of 1/64 below 4)."""
    i = np.arange(np.prod(shape)) + seed
    return (((i * 37) % 257 - 128) / 64.0).astype(np.float32).reshape(shape)


def to_bf16_bits(x):
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


@pytest.mark.parametrize("type_name", WEIGHTS)
def test_gemm_is_near_the_float_product(type_name):
    w = bq.quantize(exact((ROWS, COLS), 5), type_name, absmean=True)
    x = np.random.default_rng(1).standard_normal((BATCH, COLS), dtype=np.float32)
    y = bq.gemm(w, x)
    assert y.shape == (BATCH, ROWS) and y.dtype == np.float32
    wf = bq.dequantize(w).astype(np.float64)
    reference = x.astype(np.float64) @ wf.T
    # 8-bit activations: at most half a step of max|x|/127 per element.
    bound = np.abs(wf).sum(axis=1)[None, :] * np.abs(x).max(axis=1)[:, None] / 127.0 + 1e-4
    assert np.all(np.abs(y - reference) <= bound)


@pytest.mark.parametrize("type_name", WEIGHTS)
def test_gemm_entry_points_types_ranges_and_targets_agree(type_name):
    w = bq.quantize(exact((ROWS, COLS), 2), type_name, absmean=True)
    x = exact((BATCH, COLS), 9)
    y = bq.gemm(w, x)
    assert np.array_equal(bq.gemm(w, x.astype(np.float16)), y)
    assert np.array_equal(bq.gemm(w, to_bf16_bits(x)), y)
    act = bq.gemm_act_type(type_name)
    if act == "I8_S":
        once = bq.gemm_i8s(w, *bq.quantize_i8s(x))
    else:
        once = bq.gemm_blocks(w, bq.quantize(x, act))
    assert np.array_equal(once, y), act
    out = np.full((BATCH, ROWS), np.nan, dtype=np.float32)
    for rows in [(0, 5), (5, ROWS)]:
        bq.gemm(w, x, row_range=rows, out=out, threads=2)
    assert np.array_equal(out, y)
    for target in bq.cpu_targets_supported():
        assert np.array_equal(bq.gemm(w, x, cpu_target=target), y), target


def test_gemm_rejects_bad_input():
    w = bq.quantize(exact((ROWS, COLS), 0), "TQ2_0", absmean=True)
    with pytest.raises(ValueError, match="columns"):
        bq.gemm(w, exact((2, COLS - 1), 0))
    with pytest.raises(bq.BitnetError) as e:
        bq.gemm(bq.quantize(exact((ROWS, COLS), 0), "Q8_0"), exact((2, COLS), 0))
    assert e.value.status == -15 and e.value.message
    with pytest.raises(bq.BitnetError) as e:
        bq.gemm(w, exact((2, COLS), 0), row_range=(3, ROWS + 1))
    assert "row" in e.value.message
    with pytest.raises(bq.BitnetError):
        bq.gemm_blocks(w, bq.quantize(exact((2, COLS), 0), "Q8_0"))
    with pytest.raises(ValueError):
        bq.gemm_i8s(w, np.zeros((2, COLS), np.int8), np.ones(3, np.float32), np.zeros(2, np.int32))
