//! A Rust model of BitNet-rs's family-A scalar quantizers (I2SQuantizer,
//! TL1Quantizer, TL2Quantizer of crates/bitnet-quantization), following
//! their code step by step, redundant checks included: the independent
//! oracle the library is compared with in the property tests and the
//! crossval run.
//!
//! Rust's `f32::round` rounds half away from zero and `as` casts saturate
//! (NaN to 0), which is what the spec's rules assume.
use bitnet_quant::{Format, Quantized};

/// I2_S refuses an input with no finite element (BitNet-rs MalformedData).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllNonFinite;

/// utils.rs `calculate_scale(block, bits = 2)`: the finite absmax, with 1.0 for
/// zero or below 1e-30 and a cap of 1e30.
pub fn block_scale(block: &[f32]) -> f32 {
    let absmax = block.iter().filter(|x| x.is_finite()).fold(0.0f32, |m, x| m.max(x.abs()));
    if absmax == 0.0 || !absmax.is_finite() || absmax < 1e-30 {
        1.0
    } else if absmax > 1e30 {
        1e30
    } else {
        absmax
    }
}

/// i2s.rs, through simd_ops.rs `quantize_value_scalar`: a value in
/// [-2, 1]; stored as value + 2.
fn i2s_code(x: f32, scale: f32) -> u8 {
    let q =
        if x.is_finite() && scale != 0.0 && scale.is_finite() { ((x / scale).round() as i32).clamp(-2, 1) } else { 0 };
    (q + 2) as u8
}

/// The 256-entry forward table of a 2-bit lookup table: entry i holds
/// clamp(round(step(i) / scale) + 2, 0, 3).
fn forward_table(step: impl Fn(f32) -> f32, scale: f32) -> [u8; 256] {
    let mut table = [0u8; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        let q = (step(i as f32 - 128.0) / scale).round() as i32;
        *entry = q.saturating_add(2).clamp(0, 3) as u8;
    }
    table
}

/// tl1.rs: TL1 codes with a table from the block's own min and max (NaN
/// ignored, ±Inf kept), not from the stored scale.
fn tl1_codes(block: &[f32], codes: &mut Vec<u8>) {
    let min = block.iter().fold(f32::INFINITY, |m, &x| m.min(x));
    let max = block.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let abs_max = max.abs().max(min.abs());
    let scale = if abs_max == 0.0 { 1.0 } else { abs_max / 1.0 };
    let table = forward_table(|centered| centered * scale, scale);
    codes.extend(block.iter().map(|&v| {
        let index = ((v / scale + 128.0).round() as i32).clamp(0, 255);
        table[index as usize]
    }));
}

/// tl2.rs: TL2 codes through the table of VectorizedLookupTable::new(-s, s).
fn tl2_codes(block: &[f32], scale: f32, codes: &mut Vec<u8>) {
    let table_scale = scale.abs().max((-scale).abs()) / 1.0;
    let table = forward_table(|centered| centered * table_scale / 128.0, table_scale);
    codes.extend(block.iter().map(|&v| {
        let t = ((v / table_scale) * 128.0 + 128.0).round();
        table[(t as usize).min(255)]
    }));
}

/// Element i at byte i/4, bits 2(i%4), least significant first; padding 0.
pub fn pack_codes(codes: &[u8]) -> Vec<u8> {
    let mut packed = vec![0u8; codes.len().div_ceil(4)];
    for (i, &code) in codes.iter().enumerate() {
        packed[i / 4] |= (code & 3) << (2 * (i % 4));
    }
    packed
}

pub fn code_at(packed: &[u8], i: usize) -> u8 {
    (packed[i / 4] >> (2 * (i % 4))) & 3
}

/// Family-A quantization of `input` in blocks of `block_size` elements.
pub fn quantize(format: Format, block_size: usize, input: &[f32]) -> Result<Quantized, AllNonFinite> {
    assert!(block_size > 0, "block size must be positive");
    if format == Format::I2S && !input.is_empty() && !input.iter().any(|x| x.is_finite()) {
        return Err(AllNonFinite);
    }
    let mut codes = Vec::with_capacity(input.len());
    let mut scales = Vec::with_capacity(input.len().div_ceil(block_size));
    for block in input.chunks(block_size) {
        let scale = block_scale(block);
        scales.push(scale);
        match format {
            Format::I2S => codes.extend(block.iter().map(|&x| i2s_code(x, scale))),
            Format::TL1 => tl1_codes(block, &mut codes),
            Format::TL2 => tl2_codes(block, scale, &mut codes),
        }
    }
    Ok(Quantized { packed: pack_codes(&codes), scales })
}

/// Family-A dequantization: (code − 2) · scale; I2_S and TL2 map a
/// non-finite scale to 0.0, TL1 multiplies whatever scale it has.
pub fn dequantize(format: Format, block_size: usize, packed: &[u8], scales: &[f32], n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let scale = scales[i / block_size];
            if format != Format::TL1 && !scale.is_finite() {
                0.0
            } else {
                (code_at(packed, i) as i32 - 2) as f32 * scale
            }
        })
        .collect()
}
