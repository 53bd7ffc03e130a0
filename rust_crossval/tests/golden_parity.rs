//! Every case of every golden file (families A and B, matmul_i2s), through
//! the linked and the loaded library, on every CPU target this machine
//! supports, compared bit for bit with BitNet-rs's output.
mod common;

use bitnet_quant::crossval::golden_parity;
use bitnet_quant::golden::{default_dir, Family, GoldenSet};
use bitnet_quant::Library;

fn assert_golden_parity(backend: &str, lib: &Library) {
    let set = GoldenSet::open(&default_dir()).expect("golden vectors in ffi_tests/golden");
    let targets = lib.cpu_targets_supported();
    assert_eq!(targets.first(), Some(&bitnet_quant::CpuTarget::REFERENCE));
    let rows = golden_parity(lib, backend, &set, &targets);
    // Families A and B and the matmul are all there.
    assert!(set.cases.iter().any(|c| matches!(c.family, Family::Quantizer { .. })));
    assert!(set.cases.iter().any(|c| matches!(c.family, Family::Kernel { .. })));
    assert!(set.cases.iter().any(|c| c.family == Family::MatmulI2s));
    assert_eq!(rows.len(), set.files.len() * targets.len());
    let failures: Vec<String> = rows
        .iter()
        .filter(|r| r.mismatches > 0)
        .map(|r| format!("{} [{}]: {} of {} cases: {:?}", r.suite, r.target, r.mismatches, r.cases, r.failures))
        .collect();
    assert!(rows.iter().all(|r| r.cases > 0));
    assert!(failures.is_empty(), "{backend}: golden mismatches:\n{}", failures.join("\n"));
    let total: usize = rows.iter().map(|r| r.cases).sum();
    assert_eq!(total, set.cases.len() * targets.len());
    println!("{backend}: {} golden cases x {} targets, 0 mismatches", set.cases.len(), targets.len());
}

#[test]
fn golden_parity_linked() {
    assert_golden_parity("linked", Library::linked());
}

#[test]
fn golden_parity_loaded() {
    assert_golden_parity("loaded", common::loaded());
}

/// A check that can fail: one flipped byte of BitNet-rs's output is caught.
#[test]
fn a_corrupted_golden_value_is_reported() {
    let lib = Library::linked();
    let input: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 8.0).collect();
    let good = lib.quantize(bitnet_quant::Format::I2S, &Default::default(), &input).unwrap();
    let mut bad = good.packed.clone();
    bad[3] ^= 0b01;
    assert_eq!(bitnet_quant::crossval::first_byte_diff(&good.packed, &bad), Some(3));
    assert_eq!(bitnet_quant::crossval::first_float_diff(&[0.0], &[-0.0]), Some(0));
    assert_eq!(bitnet_quant::crossval::first_float_diff(&[f32::NAN], &[-f32::NAN]), None);
}
