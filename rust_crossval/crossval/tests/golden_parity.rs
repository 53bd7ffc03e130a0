//! Every case of every golden file (families A and B, matmul_i2s), through
//! the linked and the loaded library, on every CPU target this machine
//! supports, compared bit for bit with BitNet-rs's output.
#[path = "../../bitnet-quant/tests/common/mod.rs"]
mod common;

use bitnet_quant::Library;
use bitnet_quant_crossval::crossval::golden_parity;
use bitnet_quant_crossval::golden::{default_dir, Family, GoldenSet};

fn assert_golden_parity(backend: &str, lib: &Library) {
    let set = GoldenSet::open(&default_dir()).expect("golden vectors in ffi_tests/golden");
    let targets = lib.cpu_targets_supported();
    assert_eq!(targets.first(), Some(&bitnet_quant::CpuTarget::REFERENCE));
    let rows = golden_parity(lib, backend, &set, &targets);
    // Families A and B and the matmul are all there.
    assert!(set.cases.iter().any(|c| matches!(c.family, Family::Quantizer { .. })));
    assert!(set.cases.iter().any(|c| matches!(c.family, Family::Kernel { .. })));
    assert!(set.cases.iter().any(|c| c.family == Family::MatmulI2s));
    let failures: Vec<String> = rows
        .iter()
        .filter(|r| r.mismatches > 0)
        .map(|r| format!("{} [{}]: {} of {} cases: {:?}", r.suite, r.target, r.mismatches, r.cases, r.failures))
        .collect();
    assert!(failures.is_empty(), "{backend}: golden mismatches:\n{}", failures.join("\n"));
    // Every case of the index (323, as the reference implementations wrote
    // it) ran on every target.
    assert_eq!(set.cases.len(), 323, "golden cases in index.tsv");
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

/// The comparison every parity check relies on: it finds a flipped byte,
/// tells -0.0 from +0.0, takes NaN as equal to NaN, and reports a length
/// difference.
#[test]
fn the_bitwise_comparison_finds_each_kind_of_difference() {
    use bitnet_quant_crossval::crossval::{first_byte_diff, first_float_diff};
    assert_eq!(first_byte_diff(&[1, 2, 3, 4], &[1, 2, 3, 5]), Some(3));
    assert_eq!(first_byte_diff(&[1, 2], &[1, 2]), None);
    assert_eq!(first_byte_diff(&[1, 2], &[1, 2, 3]), Some(2));
    assert_eq!(first_float_diff(&[1.0, 0.0], &[1.0, -0.0]), Some(1));
    assert_eq!(first_float_diff(&[f32::NAN], &[-f32::NAN]), None);
    assert_eq!(first_float_diff(&[1.0], &[1.0, 2.0]), Some(1));
}
