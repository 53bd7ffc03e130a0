#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_gguf and fuzz_safetensors (small valid
files covering every value type, the ternary layouts and the dtypes) into
cli/fuzz/corpus/. Deterministic; rerun after changing it."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, alignment=32):
    """kvs: [(key, type, encoded value)], tensors: [(name, type, ne, data)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + value
    offset, data = 0, b""
    for name, ttype, ne, payload in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + struct.pack("<%dq" % len(ne), *ne)
        out += struct.pack("<IQ", ttype, offset)
        pad = (-len(payload)) % alignment
        data += payload + b"\0" * pad
        offset += len(payload) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + data


def array(element_type, count, body):
    return struct.pack("<IQ", element_type, count) + body


def write(name, data):
    path = os.path.join(HERE, "corpus", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def seeds_gguf():
    kvs = [
        ("general.architecture", 8, gguf_string("bitnet")),
        ("general.alignment", 4, struct.pack("<I", 32)),
        ("a.u8", 0, b"\x07"), ("a.i8", 1, b"\xff"), ("a.u16", 2, struct.pack("<H", 9)),
        ("a.i16", 3, struct.pack("<h", -9)), ("a.i32", 5, struct.pack("<i", -1)),
        ("a.f32", 6, struct.pack("<f", 1e-5)), ("a.bool", 7, b"\x01"),
        ("a.u64", 10, struct.pack("<Q", 1 << 40)), ("a.i64", 11, struct.pack("<q", -5)),
        ("a.f64", 12, struct.pack("<d", 0.5)),
        ("tokenizer.ggml.tokens", 9, array(8, 3, gguf_string("a") + gguf_string("\u0120b") + gguf_string("<s>"))),
        ("tokenizer.ggml.token_type", 9, array(5, 3, struct.pack("<3i", 1, 1, 3))),
    ]
    half_one = struct.pack("<H", 0x3C00)
    tq2 = bytes([0x55, 0xAA, 0x00, 0x24] * 16) + half_one
    tq1 = bytes(range(0, 255, 5))[:52] + half_one
    q2 = half_one + bytes([0x55, 0x26] * 8)
    i2s = bytes([0x55, 0x81] * 16) + struct.pack("<f", 0.25) + b"\0" * 28
    f32 = struct.pack("<4f", 1, -2, 0.5, 3)
    tensors = [
        ("token_embd.weight", 0, [2, 2], f32),
        ("blk.0.attn_q.weight", 35, [256], tq2),
        ("blk.0.attn_k.weight", 34, [256], tq1),
        ("blk.0.attn_v.weight", 42, [64], q2),
        ("blk.0.ffn_up.weight", 36, [128], i2s),
        ("blk.0.ffn_norm.weight", 1, [4], struct.pack("<4H", 0x3C00, 0x4000, 0xBC00, 0)),
        ("blk.0.ffn_sub_norm.weight", 30, [2], struct.pack("<2H", 0x3F80, 0x4000)),
    ]
    write("fuzz_gguf/mainline_all_types.gguf", gguf(kvs, tensors))
    fork_kvs = [("general.architecture", 8, gguf_string("bitnet-b1.58")),
                ("bitnet-b1.58.block_count", 4, struct.pack("<I", 1))]
    fork_tensors = [("blk.0.attn_q.weight", 36, [128, 2], i2s[:32] * 2 + i2s[32:]),
                    ("blk.0.attn_k.weight", 38, [128], bytes([0x40] * 32) + struct.pack("<f", 1) + b"\0" * 28)]
    write("fuzz_gguf/bitnet_cpp_i2s_tl1.gguf", gguf(fork_kvs, fork_tensors))
    write("fuzz_gguf/align64_empty.gguf",
          gguf([("general.alignment", 4, struct.pack("<I", 64))], [("x", 0, [0, 3], b"")], alignment=64))


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


def seeds_safetensors():
    write("fuzz_safetensors/bf16_packed.safetensors", safetensors([
        ("model.layers.0.self_attn.q_proj.weight", "U8", [1, 4], bytes([0x55, 0x96, 0x1A, 0x6A])),
        ("model.layers.0.self_attn.q_proj.weight_scale", "BF16", [1], struct.pack("<H", 0x4248)),
        ("model.embed_tokens.weight", "BF16", [2, 2], struct.pack("<4H", 0x3F80, 0x4000, 0xBF80, 0)),
        ("model.norm.weight", "F32", [2], struct.pack("<2f", 1, 1)),
        ("empty", "F16", [0, 3], b""),
        ("scalar", "I64", [], struct.pack("<q", 7)),
    ], {"format": "pt"}))
    write("fuzz_safetensors/index.json", json.dumps(
        {"metadata": {"total_size": 24}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                        "b": "model-00002-of-00002.safetensors"}}).encode())


if __name__ == "__main__":
    seeds_gguf()
    seeds_safetensors()
