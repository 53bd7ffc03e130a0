//! The parity checks behind the golden tests and the crossval binary: every
//! golden case and random model cases, on one library and one CPU target.
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::golden::{Case, Family, GoldenSet};
use crate::model;
use bitnet_quant::{sys, CpuTarget, Format, Library, Options};

/// The first index where `same` fails, or the shorter length when the
/// lengths differ.
fn first_diff<T>(got: &[T], want: &[T], same: impl Fn(&T, &T) -> bool) -> Option<usize> {
    if got.len() != want.len() {
        return Some(got.len().min(want.len()));
    }
    got.iter().zip(want).position(|(a, b)| !same(a, b))
}

/// Float slices are equal when every pair has the same bits or both are
/// NaN (so -0.0 differs from +0.0). Returns the first differing index.
pub fn first_float_diff(got: &[f32], want: &[f32]) -> Option<usize> {
    first_diff(got, want, |a, b| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
}

pub fn first_byte_diff(got: &[u8], want: &[u8]) -> Option<usize> {
    first_diff(got, want, |a, b| a == b)
}

/// Err naming the first index where `first_diff` finds got and want differ.
fn expect_same<T: std::fmt::Debug>(
    what: &str,
    got: &[T],
    want: &[T],
    first_diff: fn(&[T], &[T]) -> Option<usize>,
) -> Result<(), String> {
    match first_diff(got, want) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}[{i}] is {:?}, expected {:?} (lengths {} and {})",
            got.get(i),
            want.get(i),
            got.len(),
            want.len()
        )),
    }
}

fn expect_floats(what: &str, got: &[f32], want: &[f32]) -> Result<(), String> {
    expect_same(what, got, want, first_float_diff)
}

fn expect_bytes(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    expect_same(what, got, want, first_byte_diff)
}

/// Cases and mismatches of one suite on one target through one library.
#[derive(Clone, Debug)]
pub struct ParityRow {
    pub backend: String,
    /// A golden file name, or `"random <format>"` for model cases.
    pub suite: String,
    pub format: String,
    /// The block size, or 0 where the suite mixes block sizes or has none.
    pub block: usize,
    pub target: String,
    pub cases: usize,
    pub mismatches: usize,
    /// The first few mismatches, described.
    pub failures: Vec<String>,
}

const KEPT_FAILURES: usize = 5;

impl ParityRow {
    fn new(lib: &Library, backend: &str, suite: String, format: &str, block: usize, target: CpuTarget) -> ParityRow {
        ParityRow {
            backend: backend.to_string(),
            suite,
            format: format.to_string(),
            block,
            target: lib.cpu_target_name(target),
            cases: 0,
            mismatches: 0,
            failures: Vec::new(),
        }
    }

    fn record(&mut self, case: &str, outcome: Result<(), String>) {
        self.cases += 1;
        if let Err(why) = outcome {
            self.mismatches += 1;
            if self.failures.len() < KEPT_FAILURES {
                self.failures.push(format!("{case}: {why}"));
            }
        }
    }
}

fn golden<'a>(set: &'a GoldenSet, case: &Case, field: &str) -> Result<crate::golden::TensorView<'a>, String> {
    set.field(case, field).ok_or_else(|| format!("golden tensor {}/{field} missing", case.name))
}

/// Family A: bitnet_quantize / bitnet_dequantize with the case's block on
/// `target`, and the fixed-format entry points where the block is theirs.
fn check_quantizer(
    lib: &Library,
    set: &GoldenSet,
    case: &Case,
    format: Format,
    block: usize,
    target: CpuTarget,
) -> Result<(), String> {
    let input = set.input(case).ok_or("input missing")?;
    let options = Options::block(block as u32).on(target);
    let result = lib.quantize(format, &options, &input);
    if let Some(error) = &case.error {
        return match result {
            Err(e) if e.status == sys::BITNET_E_ALL_NONFINITE => Ok(()),
            other => Err(format!("BitNet-rs fails ({error}); the library gave {other:?}")),
        };
    }
    let got = result.map_err(|e| e.to_string())?;
    let packed = golden(set, case, "packed")?.u8s();
    let scales = golden(set, case, "scales")?.f32s();
    expect_bytes("packed", &got.packed, &packed)?;
    expect_floats("scales", &got.scales, &scales)?;
    // Decode BitNet-rs's own bytes, so a shared encode/decode error cannot hide.
    let dequant = lib.dequantize(format, &options, &packed, &scales, input.len()).map_err(|e| e.to_string())?;
    expect_floats("dequant", &dequant, &golden(set, case, "dequant")?.f32s())?;

    if block == format.default_block_size() {
        let mut fixed = bitnet_quant::Quantized { packed: vec![0; packed.len()], scales: vec![0.0; scales.len()] };
        let mut fixed_dequant = vec![0.0; input.len()];
        lib.with_cpu_target(target, || {
            lib.quantize_default_block(format, &input, &mut fixed.packed, &mut fixed.scales)?;
            lib.dequantize_default_block(format, &packed, &scales, &mut fixed_dequant)
        })
        .and_then(|r| r)
        .map_err(|e| format!("fixed-format entry point: {e}"))?;
        expect_bytes("fixed-format packed", &fixed.packed, &packed)?;
        expect_floats("fixed-format scales", &fixed.scales, &scales)?;
        expect_floats("fixed-format dequant", &fixed_dequant, &dequant)?;
    }
    Ok(())
}

/// Family B: bitnet_cpp_quantize on `target`, exact-size buffers.
fn check_kernel(lib: &Library, set: &GoldenSet, case: &Case, format: Format, target: CpuTarget) -> Result<(), String> {
    let input = set.input(case).ok_or("input missing")?;
    let mut packed = vec![0u8; input.len().div_ceil(4)];
    let mut scales = vec![0f32; input.len().div_ceil(format.default_block_size())];
    lib.with_cpu_target(target, || lib.cpp_quantize(&input, &mut packed, &mut scales, format.raw()))
        .and_then(|r| r)
        .map_err(|e| e.to_string())?;
    expect_bytes("packed", &packed, &golden(set, case, "packed")?.u8s())?;
    expect_floats("scales", &scales, &golden(set, case, "scales")?.f32s())
}

fn check_matmul(lib: &Library, set: &GoldenSet, case: &Case, target: CpuTarget) -> Result<(), String> {
    let a = golden(set, case, "a")?;
    let b = golden(set, case, "b")?;
    let (m, k, n) = match (a.shape, b.shape) {
        ([m, k], [k2, n]) if k == k2 => (*m, *k, *n),
        shapes => return Err(format!("bad shapes {shapes:?}")),
    };
    let mut c = vec![0f32; m * n];
    lib.with_cpu_target(target, || lib.cpp_matmul_i2s(&a.i8s(), &b.u8s(), &mut c, m, n, k))
        .and_then(|r| r)
        .map_err(|e| e.to_string())?;
    expect_floats("c", &c, &golden(set, case, "c_fallback")?.f32s())
}

/// Every golden case on every target in `targets`; one row per file and target.
pub fn golden_parity(lib: &Library, backend: &str, set: &GoldenSet, targets: &[CpuTarget]) -> Vec<ParityRow> {
    let mut rows = Vec::new();
    for file in set.files.keys() {
        let family = Family::from_file_name(file).expect("GoldenSet::open checked every file name");
        let cases: Vec<&Case> = set.cases.iter().filter(|c| &c.file == file).collect();
        for &target in targets {
            let format = family.format().map_or("matmul", Format::name);
            let mut row = ParityRow::new(lib, backend, file.clone(), format, family.block().unwrap_or(0), target);
            for case in &cases {
                let outcome = match family {
                    Family::Quantizer { format, block } => check_quantizer(lib, set, case, format, block, target),
                    Family::Kernel { format } => check_kernel(lib, set, case, format, target),
                    Family::MatmulI2s => check_matmul(lib, set, case, target),
                };
                row.record(&case.name, outcome);
            }
            rows.push(row);
        }
    }
    rows
}

/// The library against the family-A model on one random case: quantize
/// (status, bytes, scales) and dequantize of the result.
pub fn check_against_model(
    lib: &Library,
    format: Format,
    block: usize,
    input: &[f32],
    target: CpuTarget,
) -> Result<(), String> {
    let options = Options::block(block as u32).on(target);
    match (lib.quantize(format, &options, input), model::quantize(format, block, input)) {
        (Err(e), Err(model::AllNonFinite)) if e.status == sys::BITNET_E_ALL_NONFINITE => Ok(()),
        (Ok(got), Ok(want)) => {
            expect_bytes("packed", &got.packed, &want.packed)?;
            expect_floats("scales", &got.scales, &want.scales)?;
            let decoded =
                lib.dequantize(format, &options, &got.packed, &got.scales, input.len()).map_err(|e| e.to_string())?;
            expect_floats(
                "dequant",
                &decoded,
                &model::dequantize(format, block, &want.packed, &want.scales, input.len()),
            )
        }
        (got, want) => Err(format!("library {got:?}, model {want:?}")),
    }
}

/// `cases` random family-A cases (seeded) on every target; one row per
/// format and target.
pub fn random_parity(lib: &Library, backend: &str, targets: &[CpuTarget], cases: usize, seed: u64) -> Vec<ParityRow> {
    let rng =
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed.to_le_bytes(), seed.to_le_bytes(), [0; 8], [0; 8]].concat());
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = crate::strategies::quantize_case(600);
    let drawn: Vec<_> =
        (0..cases).map(|_| strategy.new_tree(&mut runner).expect("strategy draws a case").current()).collect();
    let mut rows = Vec::new();
    for format in Format::ALL {
        for &target in targets {
            let mut row = ParityRow::new(lib, backend, format!("random {}", format.name()), format.name(), 0, target);
            for (i, (_, block, input)) in drawn.iter().enumerate().filter(|(_, (f, _, _))| *f == format) {
                row.record(
                    &format!("case {i} (n={}, block={block})", input.len()),
                    check_against_model(lib, format, *block, input, target),
                );
            }
            rows.push(row);
        }
    }
    rows
}

/// Quantization error of one format on one input distribution.
#[derive(Clone, Debug)]
pub struct ErrorRow {
    pub format: String,
    pub distribution: String,
    pub n: usize,
    pub pearson: f64,
    pub snr_db: f64,
}

/// Pearson correlation of x and y, over pairs where both are finite.
pub fn pearson(x: &[f32], y: &[f32]) -> f64 {
    let pairs: Vec<(f64, f64)> =
        x.iter().zip(y).filter(|(a, b)| a.is_finite() && b.is_finite()).map(|(&a, &b)| (a as f64, b as f64)).collect();
    let n = pairs.len() as f64;
    let (mx, my) = pairs.iter().fold((0.0, 0.0), |(sx, sy), (a, b)| (sx + a / n, sy + b / n));
    let (sxy, sxx, syy) = pairs.iter().fold((0.0, 0.0, 0.0), |(sxy, sxx, syy), (a, b)| {
        (sxy + (a - mx) * (b - my), sxx + (a - mx) * (a - mx), syy + (b - my) * (b - my))
    });
    sxy / (sxx * syy).sqrt()
}

/// 10·log10(Σx² / Σ(x−y)²) in dB, over pairs where both are finite.
pub fn snr_db(x: &[f32], y: &[f32]) -> f64 {
    let (signal, noise) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .fold((0.0f64, 0.0f64), |(s, e), (&a, &b)| (s + (a as f64).powi(2), e + (a as f64 - b as f64).powi(2)));
    10.0 * (signal / noise).log10()
}

/// The golden inputs that are samples of a distribution (not edge cases).
pub const DISTRIBUTIONS: [&str; 6] = [
    "gauss_65536_s24",
    "uniform_4096_s5",
    "laplace_2048_s7",
    "outliers_2048_s8",
    "cauchy_1024_s9",
    "weights_16384_s10",
];

/// Round-trip error of each format at its default block on each distribution.
pub fn error_metrics(lib: &Library, set: &GoldenSet) -> Result<Vec<ErrorRow>, bitnet_quant::Error> {
    let mut rows = Vec::new();
    for format in Format::ALL {
        for name in DISTRIBUTIONS {
            let Some(input) = set.inputs.get(name).map(|t| t.f32s()) else { continue };
            let q = lib.quantize(format, &Options::default(), &input)?;
            let y = lib.dequantize(format, &Options::default(), &q.packed, &q.scales, input.len())?;
            rows.push(ErrorRow {
                format: format.name().to_string(),
                distribution: name.to_string(),
                n: input.len(),
                pearson: pearson(&input, &y),
                snr_db: snr_db(&input, &y),
            });
        }
    }
    Ok(rows)
}
