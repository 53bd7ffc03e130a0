//! The ternary products against ggml's and bitnet.cpp's golden dots
//! (`ffi_tests/golden/ggml/tq_vec_dot`, `i2_s_dot`), through the safe API,
//! linked and loaded, on every supported CPU target: with activations
//! quantized once (Q8_K blocks, int8 with scales and sums) and from floats.
#[path = "../../bitnet-quant/tests/common/mod.rs"]
mod common;

use bitnet_quant::{GemmOptions, I8Activations, Tensor, TensorType};
use bitnet_quant_crossval::golden::{default_dir, SafeTensors};

fn open(file: &str) -> SafeTensors {
    let path = default_dir().join("ggml").join(file);
    SafeTensors::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

#[test]
fn tq_products_match_ggml_dots() {
    let set = open("tq_vec_dot.safetensors");
    let cases = set_names_with(&set, "/act_q8_K");
    assert!(!cases.is_empty());
    for case in &cases {
        let act = set.get(&format!("{case}/act")).unwrap().f32s();
        let act_q8k = set.get(&format!("{case}/act_q8_K")).unwrap().u8s();
        let cols = act.len();
        for (ty, w_field, dot_field) in
            [(TensorType::TQ1_0, "w_tq1_0", "dot_tq1_0"), (TensorType::TQ2_0, "w_tq2_0", "dot_tq2_0")]
        {
            let w = set.get(&format!("{case}/{w_field}")).unwrap();
            let rows = w.shape[0];
            let dot = set.get(&format!("{case}/{dot_field}")).unwrap().f32s();
            for (backend, lib) in common::backends() {
                let w = Tensor::from_bytes(lib, ty, rows, cols, w.u8s()).unwrap();
                let xq = Tensor::from_bytes(lib, TensorType::Q8_K, 1, cols, act_q8k.clone()).unwrap();
                for target in lib.cpu_targets_supported() {
                    let options = GemmOptions { cpu_target: target, ..GemmOptions::default() };
                    let name = lib.cpu_target_name(target);
                    let y = lib.gemm_blocks(&w, &xq, &options).unwrap();
                    assert!(same_bits(&y, &dot), "{case} {ty:?} {backend} {name}: {y:?} vs ggml {dot:?}");
                    let y = lib.gemm(&w, &act, &options).unwrap();
                    assert!(same_bits(&y, &dot), "{case} {ty:?} {backend} {name} from floats");
                }
            }
        }
    }
}

/// Case names of the tensors named `<case><suffix>`.
fn set_names_with(set: &SafeTensors, suffix: &str) -> Vec<String> {
    set.names().filter_map(|n| n.strip_suffix(suffix)).map(str::to_string).collect()
}

#[test]
fn i2s_products_match_bitnet_cpp_dots() {
    let set = open("i2_s_dot.safetensors");
    let cases = set_names_with(&set, "/w_bytes");
    assert!(!cases.is_empty());
    let mut wrapped = 0;
    for case in &cases {
        let field = |f: &str| set.get(&format!("{case}/{f}")).unwrap();
        let q = field("act_q");
        let (batch, cols) = (q.shape[0], q.shape[1]);
        let rows = field("raw").shape[1];
        let w_bytes = field("w_bytes").u8s();
        let w_scale = f32::from_le_bytes(w_bytes[w_bytes.len() - 32..][..4].try_into().unwrap());
        let act = I8Activations {
            rows: batch,
            cols,
            q: q.i8s(),
            scales: field("act_scale").f32s(),
            sums: field("act_sum").i32s(),
        };
        // Where bitnet.cpp's int16 lanes wrapped, the exact sum through the
        // same epilogue; elsewhere its output.
        let (raw, exact, golden) =
            (field("raw").f32s(), field("exact_code_sum").i32s(), field("y_fork_formula").f32s());
        let expected: Vec<f32> = (0..batch * rows)
            .map(|k| {
                if raw[k] == exact[k] as f32 {
                    golden[k]
                } else {
                    wrapped += 1;
                    let b = k / rows;
                    (exact[k] as f32 - act.sums[b] as f32) / act.scales[b] * w_scale
                }
            })
            .collect();
        for (backend, lib) in common::backends() {
            let w = Tensor::from_bytes(lib, TensorType::I2_S, rows, cols, w_bytes.clone()).unwrap();
            for target in lib.cpu_targets_supported() {
                let options = GemmOptions { cpu_target: target, ..GemmOptions::default() };
                let y = lib.gemm_i8s(&w, &act, &options).unwrap();
                let name = lib.cpu_target_name(target);
                assert!(same_bits(&y, &expected), "{case} {backend} {name}");
            }
        }
    }
    assert!(wrapped > 0, "no case where bitnet.cpp's int16 sums wrap");
}
