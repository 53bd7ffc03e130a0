//! The linked library's code runs from the file bitnet-quant-sys chose:
//! libbitnet_quant.so, or this executable itself when it linked
//! libbitnet_quant.a (the `static` feature, or `BITNET_QUANT_STATIC=1`).
//! tools/test_rust.sh runs this test both ways and also checks the static
//! executable's dynamic section.
#![cfg(target_os = "linux")]

use std::path::PathBuf;

use bitnet_quant::{sys, Library, TensorOptions, TensorType};

/// The file mapped at `address` in this process, from /proc/self/maps.
fn file_mapped_at(address: usize) -> PathBuf {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        // start-end perms offset dev inode path
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (start, end) = fields[0].split_once('-').unwrap();
        let range = usize::from_str_radix(start, 16).unwrap()..usize::from_str_radix(end, 16).unwrap();
        if range.contains(&address) {
            return PathBuf::from(fields.get(5).unwrap_or_else(|| panic!("anonymous mapping: {line}")));
        }
    }
    panic!("{address:#x} is in no mapping of /proc/self/maps");
}

#[test]
fn the_linked_code_runs_from_the_chosen_file_and_round_trips() {
    let lib = Library::linked();
    // Ternary values times one scale: TQ2_0 stores them exactly.
    let (rows, cols) = (2, 256);
    let weights: Vec<f32> = (0..rows * cols).map(|i| ((i % 3) as f32 - 1.0) * 0.5).collect();
    let tq2 = lib.quantize_tensor(TensorType::TQ2_0, &weights, rows, cols, &TensorOptions::default()).unwrap();
    let restored: Vec<f32> = lib.dequantize_tensor(&tq2).unwrap();
    assert_eq!(restored, weights);
    assert_eq!(lib.version_number(), sys::BITNET_QUANT_VERSION_NUMBER);

    let code = file_mapped_at(sys::bitnet_tensor_quantize as *const () as usize);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    match env!("BITNET_QUANT_LINKING") {
        "static" => {
            let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
            assert_eq!(code.canonicalize().unwrap(), exe, "bitnet_tensor_quantize is not in the executable");
            assert!(!maps.contains("libbitnet_quant"), "a libbitnet_quant is mapped:\n{maps}");
        }
        "shared" => {
            let name = code.file_name().unwrap().to_string_lossy();
            assert!(name.starts_with("libbitnet_quant.so"), "bitnet_tensor_quantize is in {}", code.display());
        }
        other => panic!("BITNET_QUANT_LINKING={other}"),
    }
}
