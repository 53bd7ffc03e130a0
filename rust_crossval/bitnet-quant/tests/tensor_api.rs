//! The tensor API through both backends: results keep type and shape,
//! failures are matchable kinds with the library's message, f32/f16/bf16
//! inputs agree, and the CPU-target guard restores what it replaced.
mod common;

use bitnet_quant::{
    bf16, f16, sys, CpuTarget, ErrorKind, Format, Grouping, Library, Options, Tensor, TensorOptions, TensorType,
};

/// Values that f16 and bf16 hold exactly (multiples of 1/64 below 4).
fn exact_weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37 % 257) as f32 - 128.0) / 64.0).collect()
}

#[test]
fn both_backends_report_the_header_version() {
    for (backend, lib) in common::backends() {
        assert_eq!(lib.version_number(), sys::BITNET_QUANT_VERSION_NUMBER, "{backend}");
        assert_eq!(lib.version_string(), sys::BITNET_QUANT_VERSION_STRING, "{backend}");
    }
}

#[test]
fn failures_are_kinds_to_match_with_the_library_message() {
    let w = exact_weights(2 * 100);
    for (backend, lib) in common::backends() {
        let err = lib.quantize_tensor(TensorType::TQ2_0, &w, 2, 100, &TensorOptions::default()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidShape), "{backend}: {err}");
        assert!(err.message.contains("256"), "{backend}: {err}");
        let err = lib.quantize_tensor(TensorType::TQ2_0, &w, 2, 256, &TensorOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SizeMismatch, "{backend}: {err}");
        let err = lib.quantize_tensor(TensorType::IQ2_S, &exact_weights(256), 1, 256, &Default::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidType, "{backend}: {err}");
        assert!(!err.message.is_empty());
        let err = Tensor::from_bytes(lib, TensorType::TQ1_0, 1, 256, vec![0; 53]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SizeMismatch, "{backend}: {err}");
        assert_eq!(lib.type_from_name("nope").unwrap_err().kind(), ErrorKind::InvalidType);
        assert_eq!(ErrorKind::from_status(-1000), ErrorKind::Other(-1000));
    }
}

#[test]
fn f32_f16_and_bf16_inputs_and_outputs_agree() {
    let (rows, cols) = (4, 256);
    let w32 = exact_weights(rows * cols);
    let w16: Vec<f16> = w32.iter().map(|&x| f16::from_f32(x)).collect();
    let wb16: Vec<bf16> = w32.iter().map(|&x| bf16::from_f32(x)).collect();
    for (backend, lib) in common::backends() {
        for ty in [TensorType::TQ1_0, TensorType::TQ2_0, TensorType::Q2_0, TensorType::I2_S, TensorType::Q8_0] {
            let options = TensorOptions::absmean().on(CpuTarget::REFERENCE);
            let a = lib.quantize_tensor(ty, &w32, rows, cols, &options).unwrap();
            assert_eq!(a, lib.quantize_tensor(ty, &w16, rows, cols, &options).unwrap(), "{backend} {ty:?} f16");
            assert_eq!(a, lib.quantize_tensor(ty, &wb16, rows, cols, &options).unwrap(), "{backend} {ty:?} bf16");
            assert_eq!((a.tensor_type(), a.rows(), a.cols()), (ty, rows, cols));
            assert_eq!(a.bytes().len(), lib.tensor_size(ty, rows, cols).unwrap());
            let x32: Vec<f32> = lib.dequantize_tensor(&a).unwrap();
            let x16: Vec<f16> = lib.dequantize_tensor(&a).unwrap();
            let xb16: Vec<bf16> = lib.dequantize_tensor(&a).unwrap();
            assert_eq!(x16, x32.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>(), "{backend} {ty:?}");
            assert_eq!(xb16, x32.iter().map(|&x| bf16::from_f32(x)).collect::<Vec<_>>(), "{backend} {ty:?}");
            // Into a caller's buffer (one element longer: left as it was).
            let mut into = vec![f16::from_f32(7.0); rows * cols + 1];
            lib.dequantize_tensor_into(&a, &mut into).unwrap();
            assert_eq!((&into[..rows * cols], into[rows * cols]), (&x16[..], f16::from_f32(7.0)), "{backend} {ty:?}");
            let err = lib.dequantize_tensor_into(&a, &mut into[..rows * cols - 1]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BufferTooSmall, "{backend} {ty:?}: {err}");
            // Bytes read back from a file make the same tensor.
            let read = Tensor::from_bytes(lib, ty, rows, cols, a.bytes().to_vec()).unwrap();
            assert_eq!(read, a);
        }
    }
}

#[test]
fn transcoding_keeps_the_codes_and_stats_count_them() {
    let (rows, cols) = (8, 512);
    let w = exact_weights(rows * cols);
    for (backend, lib) in common::backends() {
        let tq2 = lib.quantize_tensor(TensorType::TQ2_0, &w, rows, cols, &TensorOptions::absmean()).unwrap();
        let stats = lib.tensor_stats(&tq2).unwrap();
        assert_eq!(stats.values.iter().sum::<u64>(), (rows * cols) as u64, "{backend}");
        assert_eq!((stats.values[0], stats.values[4]), (0, 0), "{backend}: no ±2 codes");
        let decoded: Vec<f32> = lib.dequantize_tensor(&tq2).unwrap();
        for ty in [TensorType::TQ1_0, TensorType::I2_S, TensorType::Q2_0, TensorType::HfBitnet] {
            let other = lib.transcode(&tq2, ty, &TensorOptions::default()).unwrap();
            assert_eq!(lib.dequantize_tensor::<f32>(&other).unwrap(), decoded, "{backend} {ty:?}");
            assert_eq!(lib.transcode(&other, TensorType::TQ2_0, &TensorOptions::default()).unwrap(), tq2);
        }
        let err = lib.transcode(&tq2, TensorType::F32, &TensorOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidType, "{backend}: {err}");
    }
}

#[test]
fn bitnet_rs_layout_remembers_its_block_size() {
    let w = exact_weights(3 * 128);
    let lib = Library::linked();
    let options = TensorOptions { block_size: 64, ..TensorOptions::default() };
    let t = lib.quantize_tensor(TensorType::BitnetRsI2S, &w, 3, 128, &options).unwrap();
    let q = lib.quantize(Format::I2S, &Options::block(64), &w).unwrap();
    let scale_bytes: Vec<u8> = q.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    assert_eq!(t.bytes(), [q.packed.as_slice(), &scale_bytes].concat());
    // Decoded with its own block size, though the call passes none.
    let decoded: Vec<f32> = lib.dequantize_tensor(&t).unwrap();
    assert_eq!(decoded, lib.dequantize(Format::I2S, &Options::block(64), &q.packed, &q.scales, w.len()).unwrap());
    let bad = Tensor::with_block_size(lib, TensorType::BitnetRsI2S, 3, 128, 32, t.bytes().to_vec());
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::SizeMismatch);
}

#[test]
fn absmean_ternarization_per_tensor_row_and_group() {
    let (rows, cols) = (4, 64);
    let w = exact_weights(rows * cols);
    let lib = Library::linked();
    for (grouping, units, unit_len) in
        [(Grouping::Tensor, 1, rows * cols), (Grouping::Row, rows, cols), (Grouping::Columns(16), rows * 4, 16)]
    {
        let t = lib.ternarize(&w, rows, cols, &TensorOptions::default().grouped(grouping)).unwrap();
        assert_eq!(t.alphas.len(), units, "{grouping:?}");
        for (i, (&x, &q)) in w.iter().zip(&t.codes).enumerate() {
            let unit = match grouping {
                Grouping::Tensor => 0,
                Grouping::Row => i / cols,
                _ => (i / cols) * (cols / unit_len) + (i % cols) / unit_len,
            };
            let alpha = t.alphas[unit];
            let expect = (x / alpha).round().clamp(-1.0, 1.0) as i8;
            // Away from the rounding boundary the code is plain round(x/alpha).
            if ((x / alpha).abs() - 0.5).abs() > 1e-3 {
                assert_eq!(q, expect, "{grouping:?} element {i}");
            }
        }
        let first_unit: f64 = match grouping {
            Grouping::Columns(g) => w[..g as usize].iter().map(|x| x.abs() as f64).sum::<f64>() / g as f64,
            _ => w[..unit_len].iter().map(|x| x.abs() as f64).sum::<f64>() / unit_len as f64,
        };
        assert!((t.alphas[0] as f64 - first_unit).abs() <= first_unit * 1e-6, "{grouping:?}");
    }
}
