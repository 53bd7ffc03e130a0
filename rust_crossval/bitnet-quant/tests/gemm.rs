//! Ternary products through both backends: y = x · Wᵀ near the float
//! product of the decoded weights, bit-identical across the entry points
//! (activations quantized inside or once outside), element types, row
//! splits and CPU targets; bad shapes and types rejected with a kind.
mod common;

use bitnet_quant::{bf16, f16, CpuTarget, ErrorKind, GemmOptions, Library, Tensor, TensorOptions, TensorType};

const WEIGHTS: [TensorType; 4] = [TensorType::I2_S, TensorType::TQ1_0, TensorType::TQ2_0, TensorType::Q2_0];
const ROWS: usize = 8;
const COLS: usize = 512;
const BATCH: usize = 3;

/// Values f16 and bf16 hold exactly (multiples of 1/64 below 4).
fn exact(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i + seed) * 37 % 257) as f32 - 128.0) / 64.0).collect()
}

fn weight(lib: &Library, ty: TensorType) -> Tensor {
    lib.quantize_tensor(ty, &exact(ROWS * COLS, 5), ROWS, COLS, &TensorOptions::absmean()).unwrap()
}

#[test]
fn products_are_near_the_float_product_of_the_decoded_weights() {
    let x = exact(BATCH * COLS, 11);
    for (backend, lib) in common::backends() {
        for ty in WEIGHTS {
            let w = weight(lib, ty);
            let wf: Vec<f32> = lib.dequantize_tensor(&w).unwrap();
            let y = lib.gemm(&w, &x, &GemmOptions::default()).unwrap();
            assert_eq!(y.len(), BATCH * ROWS);
            for b in 0..BATCH {
                let xb = &x[b * COLS..][..COLS];
                let max_x = xb.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
                for r in 0..ROWS {
                    let wr = &wf[r * COLS..][..COLS];
                    let exact: f64 = wr.iter().zip(xb).map(|(w, x)| *w as f64 * *x as f64).sum();
                    // Activations are rounded to 8 bits: at most half a step
                    // of max|x|/127 per element (twice that as margin).
                    let bound = wr.iter().map(|w| w.abs() as f64).sum::<f64>() * max_x / 127.0 + 1e-4;
                    let got = y[b * ROWS + r] as f64;
                    assert!((got - exact).abs() <= bound, "{backend} {ty:?} y[{b},{r}] = {got}, float {exact}");
                }
            }
        }
    }
}

#[test]
fn entry_points_element_types_row_splits_and_targets_agree() {
    let x = exact(BATCH * COLS, 3);
    let x16: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    let xb16: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    for (backend, lib) in common::backends() {
        for ty in WEIGHTS {
            let w = weight(lib, ty);
            let y = lib.gemm(&w, &x, &GemmOptions::default()).unwrap();
            assert_eq!(lib.gemm(&w, &x16, &GemmOptions::default()).unwrap(), y, "{backend} {ty:?} f16");
            assert_eq!(lib.gemm(&w, &xb16, &GemmOptions::default()).unwrap(), y, "{backend} {ty:?} bf16");
            let act = lib.gemm_act_type(ty).unwrap();
            let once = if act == TensorType::I8_S {
                let q = lib.quantize_i8s(&x, BATCH, COLS, &TensorOptions::default()).unwrap();
                lib.gemm_i8s(&w, &q, &GemmOptions::default()).unwrap()
            } else {
                let xq = lib.quantize_tensor(act, &x, BATCH, COLS, &TensorOptions::default()).unwrap();
                lib.gemm_blocks(&w, &xq, &GemmOptions::default()).unwrap()
            };
            assert_eq!(once, y, "{backend} {ty:?} activations quantized once ({act:?})");
            let mut split = vec![f32::NAN; y.len()];
            for rows in [0..3, 3..ROWS] {
                let options = GemmOptions { rows: Some(rows), threads: 2, ..GemmOptions::default() };
                lib.gemm_into(&w, &x, &mut split, &options).unwrap();
            }
            assert_eq!(split, y, "{backend} {ty:?} rows split in two");
            for target in lib.cpu_targets_supported() {
                let options = GemmOptions { cpu_target: target, ..GemmOptions::default() };
                assert_eq!(lib.gemm(&w, &x, &options).unwrap(), y, "{backend} {ty:?} {}", lib.cpu_target_name(target));
            }
        }
    }
}

#[test]
fn bad_shapes_and_types_are_rejected() {
    let lib = Library::linked();
    let w = weight(lib, TensorType::TQ2_0);
    let err = lib.gemm(&w, &exact(COLS + 1, 0), &GemmOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SizeMismatch, "{err}");
    let mut short = vec![0.0; ROWS - 1];
    let err = lib.gemm_into(&w, &exact(COLS, 0), &mut short, &GemmOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SizeMismatch, "{err}");
    let xq = lib.quantize_tensor(TensorType::Q8_0, &exact(COLS, 0), 1, COLS, &TensorOptions::default()).unwrap();
    assert_eq!(lib.gemm_blocks(&w, &xq, &GemmOptions::default()).unwrap_err().kind(), ErrorKind::InvalidType);
    let q8 = lib.quantize_tensor(TensorType::Q8_0, &exact(ROWS * COLS, 0), ROWS, COLS, &Default::default()).unwrap();
    let err = lib.gemm(&q8, &exact(COLS, 0), &GemmOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidType, "{err}");
    assert!(!err.message.is_empty());
    let options = GemmOptions { rows: Some(2..ROWS + 1), ..GemmOptions::default() };
    let err = lib.gemm(&w, &exact(COLS, 0), &options).unwrap_err();
    assert!(err.message.contains("row"), "{err}");
    let options = GemmOptions { cpu_target: CpuTarget(1 << 30), ..GemmOptions::default() };
    assert!(lib.gemm(&w, &exact(COLS, 0), &options).is_err());
}
