//! Quantizes an f32 weight matrix into ggml's TQ2_0 (BitNet b1.58 absmean
//! first), as a GGUF writer stores it, then inspects it, re-packs it into
//! bitnet.cpp's I2_S and checks that both decode to the same values.
//!
//!     cargo run --example quantize_gguf_tensor [weights.f32 ROWS COLS]
//!
//! The optional file holds ROWS*COLS little-endian f32 (row-major); without
//! it a 256 x 512 random-looking matrix is used.
use bitnet_quant::{Library, TensorOptions, TensorType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (weights, rows, cols): (Vec<f32>, usize, usize) = match args.as_slice() {
        [path, rows, cols] => {
            let bytes = std::fs::read(path)?;
            let weights = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (weights, rows.parse()?, cols.parse()?)
        }
        [] => {
            let (rows, cols) = (256, 512);
            let weights = (0..rows * cols).map(|i: usize| ((i * 2_654_435_761) % 1000) as f32 / 1000.0 - 0.5).collect();
            (weights, rows, cols)
        }
        _ => return Err("usage: quantize_gguf_tensor [weights.f32 ROWS COLS]".into()),
    };

    let lib = Library::linked();
    let tq2 = lib.quantize_tensor(TensorType::TQ2_0, &weights, rows, cols, &TensorOptions::absmean())?;
    let info = lib.type_info(tq2.tensor_type())?;
    println!(
        "{} ({}): {rows} x {cols} -> {} bytes, {} bits per weight",
        info.name,
        info.defined_by,
        tq2.bytes().len(),
        info.bits_per_weight
    );
    let stats = lib.tensor_stats(&tq2)?;
    println!("values -1/0/+1: {:?}, scale {} .. {}", &stats.values[1..4], stats.scale_min, stats.scale_max);

    let i2s = lib.transcode(&tq2, TensorType::I2_S, &TensorOptions::default())?;
    let from_tq2: Vec<f32> = lib.dequantize_tensor(&tq2)?;
    let from_i2s: Vec<f32> = lib.dequantize_tensor(&i2s)?;
    assert_eq!(from_tq2, from_i2s, "the same codes and scale in both layouts");
    println!("I2_S: {} bytes, decodes to the same {} values", i2s.bytes().len(), from_i2s.len());
    Ok(())
}
