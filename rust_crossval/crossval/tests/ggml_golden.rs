//! The golden vectors of ggml and bitnet.cpp (`ffi_tests/golden/ggml/`:
//! outputs of their unmodified reference code) through the safe API, linked
//! and loaded, on every supported CPU target: TQ1_0/TQ2_0 bytes and decoded
//! values, bitnet.cpp's I2_S bytes and its int8 activations.
#[path = "../../bitnet-quant/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use bitnet_quant::{Tensor, TensorOptions, TensorType};
use bitnet_quant_crossval::golden::{default_dir, SafeTensors};

fn open(file: &str) -> SafeTensors {
    let path: PathBuf = default_dir().join("ggml").join(file);
    SafeTensors::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

#[test]
fn ternary_layouts_match_ggml_and_bitnet_cpp() {
    let files = [
        ("tq1_0.safetensors", TensorType::TQ1_0, "blocks"),
        ("tq2_0.safetensors", TensorType::TQ2_0, "blocks"),
        ("i2_s.safetensors", TensorType::I2_S, "bytes"),
    ];
    let mut checked = 0;
    for (file, ty, field) in files {
        let set = open(file);
        assert!(!set.cases().is_empty(), "{file} has no cases");
        for case in set.cases() {
            let input = set.get(&format!("{case}/input")).unwrap();
            let (rows, cols) = (input.shape[0], input.shape[1]);
            let x = input.f32s();
            let golden = set.get(&format!("{case}/{field}")).unwrap().u8s();
            for (backend, lib) in common::backends() {
                for target in lib.cpu_targets_supported() {
                    let name = lib.cpu_target_name(target);
                    let t = lib.quantize_tensor(ty, &x, rows, cols, &TensorOptions::default().on(target)).unwrap();
                    assert!(t.bytes() == golden.as_slice(), "{file} {case} {backend} {name}: bytes differ");
                    checked += 1;
                }
                if let Some(dequant) = set.get(&format!("{case}/dequant")) {
                    let t = Tensor::from_bytes(lib, ty, rows, cols, golden.clone()).unwrap();
                    let y: Vec<f32> = lib.dequantize_tensor(&t).unwrap();
                    assert!(same_bits(&y, &dequant.f32s()), "{file} {case} {backend}: decoded values differ");
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} checks");
}

#[test]
fn int8_activations_match_bitnet_cpp() {
    let set = open("i8_s.safetensors");
    assert!(!set.cases().is_empty());
    for case in set.cases() {
        let input = set.get(&format!("{case}/input")).unwrap();
        let (rows, cols) = (input.shape[0], input.shape[1]);
        let x = input.f32s();
        for (backend, lib) in common::backends() {
            for target in lib.cpu_targets_supported() {
                let a = lib.quantize_i8s(&x, rows, cols, &TensorOptions::default().on(target)).unwrap();
                let name = lib.cpu_target_name(target);
                assert_eq!(a.q, set.get(&format!("{case}/q")).unwrap().i8s(), "{case} {backend} {name}: q");
                assert!(
                    same_bits(&a.scales, &set.get(&format!("{case}/scale")).unwrap().f32s()),
                    "{case} {backend} {name}: scales"
                );
                assert_eq!(a.sums, set.get(&format!("{case}/sum")).unwrap().i32s(), "{case} {backend} {name}: sums");
            }
        }
    }
}
