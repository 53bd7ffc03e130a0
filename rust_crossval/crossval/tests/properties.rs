//! Property tests: the library against this crate's model of BitNet-rs's
//! family-A rules (src/model.rs) on every CPU target through both backends,
//! round trips, splitting at block boundaries, agreement of all targets on
//! the bitnet_cpp_* functions, and concurrent calls.
#[path = "../../bitnet-quant/tests/common/mod.rs"]
mod common;

use std::thread;

use proptest::prelude::*;

use bitnet_quant::{sys, CpuTarget, Format, Library, Options};
use bitnet_quant_crossval::crossval::{check_against_model, first_byte_diff, first_float_diff};
use bitnet_quant_crossval::model;
use bitnet_quant_crossval::strategies::{block_size, finite_tensor, format, quantize_case, tensor, value};

fn config(cases: u32) -> ProptestConfig {
    // No regression files written into the source tree.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn targets() -> Vec<CpuTarget> {
    Library::linked().cpu_targets_supported()
}

/// A supported target picked by an index.
fn some_target() -> impl Strategy<Value = CpuTarget> {
    let targets = targets();
    (0..targets.len()).prop_map(move |i| targets[i])
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn library_matches_the_family_a_model((format, block, input) in quantize_case(300)) {
        for (backend, lib) in common::backends() {
            for target in targets() {
                let outcome = check_against_model(lib, format, block, &input, target);
                prop_assert!(outcome.is_ok(), "{backend} {} {:?} block {block}: {}",
                             format.name(), target, outcome.unwrap_err());
            }
        }
    }

    #[test]
    fn dequantize_matches_the_model_for_any_codes_and_scales(
        format in format(),
        block in block_size(),
        (n, packed) in (1usize..400).prop_flat_map(|n| (Just(n), prop::collection::vec(any::<u8>(), n.div_ceil(4)))),
        scale_values in prop::collection::vec(prop_oneof![
            4 => value(), 1 => prop::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY])], 100),
        target in some_target(),
    ) {
        let scales: Vec<f32> = scale_values.iter().cycle().take(n.div_ceil(block)).copied().collect();
        // The padding bits of the last byte are ignored on decode.
        let want = model::dequantize(format, block, &packed, &scales, n);
        for (backend, lib) in common::backends() {
            let got = lib.dequantize(format, &Options::block(block as u32).on(target), &packed, &scales, n);
            let got = got.map_err(|e| TestCaseError::fail(format!("{backend}: {e}")))?;
            prop_assert_eq!(first_float_diff(&got, &want), None, "{} {:?}", backend, target);
        }
    }

    #[test]
    fn round_trip_error_is_at_most_half_a_scale(
        format in format(), block in block_size(), input in finite_tensor(300), target in some_target(),
    ) {
        let lib = Library::linked();
        let options = Options::block(block as u32).on(target);
        let q = lib.quantize(format, &options, &input).unwrap();
        let decoded = lib.dequantize(format, &options, &q.packed, &q.scales, input.len()).unwrap();
        for (i, (&x, &y)) in input.iter().zip(&decoded).enumerate() {
            let s = q.scales[i / block];
            prop_assert!(y == 0.0 || y == s || y == -s, "element {i}: {y} is not a level of scale {s}");
            // TL2's threshold is 63.5/128 of the scale, not 1/2.
            prop_assert!((x - y).abs() <= 0.5045 * s, "element {i}: {x} decoded as {y}, scale {s}");
        }
        if input.len() % 4 != 0 {
            let used_bits = 2 * (input.len() % 4);
            prop_assert_eq!(q.packed.last().unwrap() >> used_bits, 0, "padding bits are not 0");
        }
    }

    #[test]
    fn splitting_at_a_block_boundary_changes_nothing(
        format in format(), block in block_size(), input in tensor(400), cut in 0.0f64..=1.0, target in some_target(),
    ) {
        let lib = Library::linked();
        let options = Options::block(block as u32).on(target);
        let at = ((input.len() / block) as f64 * cut) as usize * block;
        let parts = [&input[..at], &input[at..]];
        let results: Vec<_> = parts.iter().map(|part| lib.quantize(format, &options, part)).collect();
        for (part, result) in parts.iter().zip(&results) {
            if let Err(e) = result {
                // The one exception: an I2_S part with no finite element.
                prop_assert_eq!(e.status, sys::BITNET_E_ALL_NONFINITE);
                prop_assert!(format == Format::I2S && !part.is_empty() && part.iter().all(|x| !x.is_finite()));
            }
        }
        if let [Ok(first), Ok(second)] = &results[..] {
            let whole = lib.quantize(format, &options, &input).unwrap();
            prop_assert_eq!(first_byte_diff(&[&first.packed[..], &second.packed[..]].concat(), &whole.packed), None);
            prop_assert_eq!(first_float_diff(&[&first.scales[..], &second.scales[..]].concat(), &whole.scales), None);
        }
    }

    #[test]
    fn every_target_agrees_on_bitnet_cpp_quantize_and_matmul(
        format in format(),
        input in tensor(400),
        (m, n, k, a, b) in (1usize..9, 1usize..9, 1usize..40).prop_flat_map(|(m, n, k)| {
            (Just(m), Just(n), Just(k), prop::collection::vec(any::<i8>(), m * k), prop::collection::vec(any::<u8>(), k * n))
        }),
    ) {
        let lib = Library::linked();
        let run = |target| lib.with_cpu_target(target, || {
            let mut packed = vec![0u8; input.len().div_ceil(4)];
            let mut scales = vec![0f32; input.len().div_ceil(format.default_block_size())];
            let mut c = vec![0f32; m * n];
            lib.cpp_quantize(&input, &mut packed, &mut scales, format.raw()).unwrap();
            lib.cpp_matmul_i2s(&a, &b, &mut c, m, n, k).unwrap();
            (packed, scales, c)
        }).unwrap();
        let reference = run(CpuTarget::REFERENCE);
        for target in targets() {
            let got = run(target);
            prop_assert_eq!(first_byte_diff(&got.0, &reference.0), None, "packed on {:?}", target);
            prop_assert_eq!(first_float_diff(&got.1, &reference.1), None, "scales on {:?}", target);
            prop_assert_eq!(first_float_diff(&got.2, &reference.2), None, "matmul on {:?}", target);
        }
    }
}

/// Many threads, every format and target, both backends: identical bytes,
/// and each thread reads its own error message.
#[test]
fn concurrent_calls_give_identical_bytes() {
    let input: Vec<f32> = (0..4099).map(|i| ((i * 7919) % 2001) as f32 / 250.0 - 4.0).collect();
    for (backend, lib) in common::backends() {
        let expected: Vec<_> = Format::ALL
            .iter()
            .map(|&f| lib.quantize(f, &Options::block(96).on(CpuTarget::REFERENCE), &input).unwrap())
            .collect();
        thread::scope(|s| {
            for t in 0..8usize {
                let (input, expected) = (&input, &expected);
                s.spawn(move || {
                    let targets = lib.cpu_targets_supported();
                    for round in 0..30 {
                        let format = Format::ALL[(t + round) % 3];
                        let target = targets[(t * 3 + round) % targets.len()];
                        let got = lib.quantize(format, &Options::block(96).on(target), input).unwrap();
                        assert_eq!(got, expected[(t + round) % 3], "{backend} thread {t} {target:?}");
                        // A thread-specific failure, then its own message.
                        let bad_block = 4 * (t as u32 + 1) + 1;
                        let err = lib.quantize(format, &Options::block(bad_block), input).unwrap_err();
                        assert_eq!(err.status, sys::BITNET_E_INVALID_BLOCK_SIZE);
                        assert!(err.message.contains(&format!("is {bad_block};")), "{}", err.message);
                    }
                });
            }
        });
    }
}
