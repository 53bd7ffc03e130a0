//! Random inputs that aim at the edges of the family-A rules, shared by the
//! property tests and the crossval binary.
use proptest::prelude::*;
use proptest::sample::select;

use bitnet_quant::Format;

/// Values at which the rules change: ±Inf, NaN, ±0.0, subnormals, the
/// 1e-30 floor and 1e30 cap of the scale (and their neighbours), f32 limits.
pub fn special_value() -> impl Strategy<Value = f32> {
    let neighbours = |x: f32| (-2i32..=2).prop_map(move |d| f32::from_bits((x.to_bits() as i32 + d) as u32));
    let signed = |s: BoxedStrategy<f32>| (s, any::<bool>()).prop_map(|(x, neg)| if neg { -x } else { x });
    prop_oneof![
        select(vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::EPSILON
        ]),
        signed((1u32..0x0080_0000).prop_map(f32::from_bits).boxed()),
        signed(neighbours(1e-30).boxed()),
        signed(neighbours(1e30).boxed()),
        signed(neighbours(1e-8).boxed()),
    ]
}

/// A value at a rounding threshold of a block whose absmax is 2^scale_exp:
/// ±1/2 (I2_S, TL1), 63.5/128 and 64.5/128 (TL2), and the family-B
/// thresholds 1/3, 0.665/1.5 and 0.8/1.5 of the absmax; ±1 sets the absmax.
pub fn tie_value(scale_exp: i32) -> impl Strategy<Value = f32> {
    let fractions = [1.0f32, 0.5, 0.25, 0.75, 63.5 / 128.0, 64.5 / 128.0, 1.0 / 3.0, 0.665 / 1.5, 0.8 / 1.5];
    (select(fractions.to_vec()), any::<bool>())
        .prop_map(move |(x, neg)| (if neg { -x } else { x }) * 2f32.powi(scale_exp))
}

/// One element: mostly ordinary values, with ties and specials mixed in.
pub fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        2 => (-3i32..=3).prop_flat_map(tie_value),
        2 => special_value(),
        1 => (any::<bool>(), -38i32..=38, 1.0f32..10.0)
            .prop_map(|(neg, exp, m)| (if neg { -m } else { m }) * 10f32.powi(exp)),
        1 => any::<f32>(),
    ]
}

/// Mostly threshold values of one power-of-two absmax, so that whole blocks
/// sit exactly on their rounding ties.
pub fn tie_tensor(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    (-3i32..=3)
        .prop_flat_map(move |exp| prop::collection::vec(prop_oneof![4 => tie_value(exp), 1 => value()], 1..=max_len))
}

/// A tensor: lengths 1-7 often, then up to a few blocks with short tails.
pub fn tensor(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        1 => prop::collection::vec(value(), 1..=7),
        2 => prop::collection::vec(value(), 0..=max_len),
        2 => tie_tensor(max_len),
    ]
}

/// A tensor of finite values whose blocks stay within the scale's normal
/// range, so that the round-trip error bound holds.
pub fn finite_tensor(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(prop_oneof![3 => -4.0f32..4.0, 1 => tie_value(0)], 1..=max_len)
}

/// Any valid block size: a multiple of 4, the formats' defaults often.
pub fn block_size() -> impl Strategy<Value = usize> {
    prop_oneof![select(vec![32usize, 64, 128, 256]), (1usize..=80).prop_map(|k| 4 * k),]
}

pub fn format() -> impl Strategy<Value = Format> {
    select(Format::ALL.to_vec())
}

/// (format, block size, input) for one family-A call.
pub fn quantize_case(max_len: usize) -> impl Strategy<Value = (Format, usize, Vec<f32>)> {
    (format(), block_size(), tensor(max_len))
}
