//! BitNet-rs's own expectations of a C kernel library (its FFI tests), through
//! the `bitnet_cpp_*` block declared exactly as BitNet-rs's
//! crates/bitnet-kernels/src/ffi/bridge.rs declares it, with BitNet-rs's
//! FallbackKernel output taken from the golden files.
//!
//! A contradiction in those tests: `ffi_quantize_matches_rust` needs the scale
//! entries past ceil(n/block) left as the caller set them (0.0), while
//! `test_kernel_correctness` asserts all 4 scales > 0 for TL1 and TL2, which
//! have only 2 and 1 blocks in 128 elements. The library leaves unused
//! entries untouched, as BitNet-rs's own FallbackKernel does, so the first
//! passes and the second's scale assertion holds for I2S only; the tests
//! below check exactly that.
use std::ffi::{c_char, c_float, c_int, c_uchar};
use std::thread;

use bitnet_quant::sys;
use bitnet_quant_crossval::golden::{default_dir, GoldenSet};

include!("../bitnet_rs_bridge.rs");

/// The last error as BitNet-rs's wrappers read it: right after the failure.
fn last_error() -> String {
    // SAFETY: NULL or a NUL-terminated thread-local message.
    let ptr = unsafe { bitnet_cpp_get_last_error() };
    assert!(!ptr.is_null(), "a failing call left no message");
    unsafe { std::ffi::CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

fn quantize(input: &[f32], output: &mut [u8], scales: &mut [f32], qtype: i32) -> Result<(), (i32, String)> {
    // SAFETY: lengths are the slices' own, cast to int as BitNet-rs casts them.
    let rc = unsafe {
        bitnet_cpp_quantize(
            input.as_ptr(),
            input.len() as c_int,
            output.as_mut_ptr(),
            output.len() as c_int,
            scales.as_mut_ptr(),
            scales.len() as c_int,
            qtype,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err((rc, last_error()))
    }
}

fn matmul(a: &[i8], b: &[u8], c: &mut [f32], m: usize, n: usize, k: usize) -> Result<(), (i32, String)> {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    // SAFETY: the slices hold exactly the sizes the call reads and writes.
    let rc =
        unsafe { bitnet_cpp_matmul_i2s(a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), m as c_int, n as c_int, k as c_int) };
    if rc == 0 {
        Ok(())
    } else {
        Err((rc, last_error()))
    }
}

/// BitNet-rs's bridge::FfiKernel: usable only when init() == 0 and the
/// library is available; every instance's drop runs the global cleanup.
struct FfiKernel;

impl FfiKernel {
    fn new() -> FfiKernel {
        // SAFETY: no arguments.
        assert_eq!(unsafe { bitnet_cpp_init() }, 0, "bitnet_cpp_init");
        assert_ne!(unsafe { bitnet_cpp_is_available() }, 0, "bitnet_cpp_is_available");
        FfiKernel
    }
}

impl Drop for FfiKernel {
    fn drop(&mut self) {
        // SAFETY: no arguments.
        unsafe { bitnet_cpp_cleanup() }
    }
}

const QTYPES: [i32; 3] = [sys::BITNET_FORMAT_I2S, sys::BITNET_FORMAT_TL1, sys::BITNET_FORMAT_TL2];
const FALLBACK_FILES: [&str; 3] =
    ["kernel_i2s_fallback.safetensors", "kernel_tl1_fallback.safetensors", "kernel_tl2_fallback.safetensors"];

/// BitNet-rs FallbackKernel's (packed, scales) for a golden case.
fn fallback_output(set: &GoldenSet, qtype: i32, case: &str) -> (Vec<u8>, Vec<f32>) {
    let file = &set.files[FALLBACK_FILES[qtype as usize]];
    (file.get(&format!("{case}/packed")).unwrap().u8s(), file.get(&format!("{case}/scales")).unwrap().f32s())
}

fn golden() -> GoldenSet {
    GoldenSet::open(&default_dir()).expect("golden vectors in ffi_tests/golden")
}

/// The LCG of BitNet-rs's kernel_tests.rs TestDataGenerator: state = state ·
/// 1103515245 + 12345 (wrapping), seeded with seed + stream.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        self.0
    }
    fn byte(&mut self) -> u8 {
        (self.next() % 256) as u8
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 1_000_000) as f32 / 1_000_000.0
    }
}

fn lcg_matrix_a(m: usize, k: usize, seed: u64) -> Vec<i8> {
    let mut rng = Lcg(seed);
    (0..m * k).map(|_| rng.byte() as i8).collect()
}

fn lcg_matrix_b(k: usize, n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Lcg(seed + 1);
    (0..k * n).map(|_| rng.byte()).collect()
}

fn lcg_quantization_input(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Lcg(seed + 2);
    (0..len).map(|_| rng.unit() * 4.0 - 2.0).collect()
}

/// ffi.rs `ffi_quantize_matches_rust`: 128 values, output n/4 bytes and n/32
/// scales for every qtype; bytes and all 4 scales equal the fallback's.
#[test]
fn ffi_quantize_matches_rust() {
    let set = golden();
    let _kernel = FfiKernel::new();
    let input: Vec<f32> = (0..128).map(|i| ((i as f32) % 32.0 - 16.0) / 8.0).collect();
    assert_eq!(input, set.inputs.get("ffi_test_128").unwrap().f32s(), "the test's input is the golden one");
    for qtype in QTYPES {
        let mut ffi_out = vec![0u8; input.len() / 4];
        let mut ffi_scales = vec![0.0f32; input.len() / 32];
        quantize(&input, &mut ffi_out, &mut ffi_scales, qtype).unwrap();
        // The fallback writes ceil(128/block) scales into zeroed buffers.
        let (rust_out, written) = fallback_output(&set, qtype, "ffi_test_128");
        let mut rust_scales = vec![0.0f32; input.len() / 32];
        rust_scales[..written.len()].copy_from_slice(&written);
        assert_eq!(ffi_out, rust_out, "output mismatch for qtype {qtype}");
        assert_eq!(ffi_scales, rust_scales, "scales mismatch for qtype {qtype}");
    }
}

/// kernel_tests.rs `test_kernel_correctness` (via test_ffi_kernel_integration).
#[test]
fn test_kernel_correctness() {
    let set = golden();
    let _kernel = FfiKernel::new();
    for size in [2, 4, 8, 16, 32] {
        let (m, n, k) = (size, size, size);
        let a = lcg_matrix_a(m, k, 12345);
        let b = lcg_matrix_b(k, n, 67890);
        let mut c = vec![0.0f32; m * n];
        matmul(&a, &b, &mut c, m, n, k).unwrap();
        assert!(c.iter().any(|&x| x != 0.0), "matmul {size}^3 is all zeros");
    }
    let input = lcg_quantization_input(128, 54321);
    assert_eq!(input, set.inputs.get("kernel_test_128_lcg54321").unwrap().f32s(), "LCG reproduces BitNet-rs's input");
    for qtype in QTYPES {
        let mut output = vec![0u8; 32];
        let mut scales = vec![0.0f32; 4];
        quantize(&input, &mut output, &mut scales, qtype).unwrap();
        assert!(output.iter().any(|&x| x != 0), "all-zero output for qtype {qtype}");
        let (packed, written) = fallback_output(&set, qtype, "kernel_test_128_lcg54321");
        assert_eq!(output, packed);
        assert_eq!(&scales[..written.len()], &written[..]);
        assert!(written.iter().all(|&s| s > 0.0 && s.is_finite()));
        // BitNet-rs's assertion "all 4 scales > 0" holds where 128 elements
        // fill 4 blocks (I2S, block 32); TL1 (64) and TL2 (128) write 2 and 1
        // scales and leave the rest as given, as the fallback does.
        if qtype == sys::BITNET_FORMAT_I2S {
            assert!(scales.iter().all(|&s| s > 0.0 && s.is_finite()));
        } else {
            assert!(scales[written.len()..].iter().all(|&s| s == 0.0), "unused scales written: {scales:?}");
        }
    }
}

/// comprehensive_kernel_unit_tests.rs `test_ffi_kernel_quantization` and
/// `test_ffi_kernel_availability`.
#[test]
fn test_ffi_kernel_quantization_and_availability() {
    let _kernel = FfiKernel::new();
    let input = [1.5f32, -1.0, 0.5, -0.5, 0.0, 2.0, -2.0, 0.1].repeat(4);
    let mut output = vec![0u8; 8];
    let mut scales = vec![0.0f32; 1];
    quantize(&input, &mut output, &mut scales, sys::BITNET_FORMAT_I2S).expect("quantization works");
    assert!(scales[0] > 0.0);
    assert!(output.iter().any(|&x| x != 0));
    // Family B: scale absmax/1.5, code 1 above 0.5·scale, 3 below −0.5·scale.
    assert_eq!(scales[0], 2.0 / 1.5);
    assert_eq!(output[0], 0b00_00_11_01, "codes of 1.5, -1.0, 0.5, -0.5: 1, 3, 0, 0");

    let mut c = vec![0.0f32; 4];
    matmul(&[1, 2, 3, 4], &[1, 0, 0, 1], &mut c, 2, 2, 2).expect("matmul works");
    assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);
    // comprehensive_unit_tests.rs: a 4x4x4 product is finite.
    let mut c = vec![0.0f32; 16];
    matmul(&lcg_matrix_a(4, 4, 1), &lcg_matrix_b(4, 4, 2), &mut c, 4, 4, 4).unwrap();
    assert!(c.iter().all(|x| x.is_finite()));
}

/// FfiKernel instances (init, then cleanup on drop) on many threads while
/// others quantize: every call keeps giving the same bytes, and an extra
/// cleanup does not break a later init. (The library holds no state that
/// init sets up, so the count it keeps is not observable.)
#[test]
fn init_and_cleanup_from_many_threads_leave_calls_working() {
    let input: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) / 10.0).collect();
    let mut want = (vec![0u8; 25], vec![0f32; 4]);
    quantize(&input, &mut want.0, &mut want.1, 0).unwrap();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    let _kernel = FfiKernel::new();
                    let mut got = (vec![0u8; 25], vec![0f32; 4]);
                    quantize(&input, &mut got.0, &mut got.1, 0).unwrap();
                    assert_eq!(got, want);
                }
            });
        }
    });
    // More cleanups than inits must not break a later init.
    unsafe { bitnet_cpp_cleanup() };
    drop(FfiKernel::new());
}

/// Where the library deliberately differs from the fallback, or rejects
/// what BitNet-rs's int lengths can carry.
#[test]
fn bad_arguments_fail_with_a_message() {
    let input = vec![0.5f32; 130];
    let mut scales = vec![0f32; 5];
    // The fallback accepts floor(130/4) = 32 bytes and drops the last two
    // elements; the library asks for ceil(130/4) = 33.
    let (rc, message) = quantize(&input, &mut [0u8; 32], &mut scales, 0).unwrap_err();
    assert_eq!(rc, sys::BITNET_E_BUFFER_TOO_SMALL);
    assert!(message.contains("33"), "{message}");
    let (rc, message) = quantize(&input, &mut [0u8; 33], &mut scales, 3).unwrap_err();
    assert_eq!(rc, sys::BITNET_E_INVALID_FORMAT);
    assert!(message.contains('3'), "{message}");
    let (rc, _) = quantize(&input, &mut [0u8; 33], &mut scales[..4], 0).unwrap_err();
    assert_eq!(rc, sys::BITNET_E_BUFFER_TOO_SMALL);
    // SAFETY: a negative length with valid pointers.
    let rc = unsafe { bitnet_cpp_quantize(input.as_ptr(), -1, [0u8; 1].as_mut_ptr(), 1, scales.as_mut_ptr(), 1, 0) };
    assert_eq!(rc, sys::BITNET_E_INVALID_ARGUMENT);
    assert!(last_error().contains("negative"));
    let rc = unsafe { bitnet_cpp_matmul_i2s([0i8].as_ptr(), [0u8].as_ptr(), [0f32].as_mut_ptr(), 1, -2, 1) };
    assert_eq!(rc, sys::BITNET_E_INVALID_ARGUMENT);
    assert!(last_error().contains('n'));
}

/// The library writes whole bytes: a caller need not zero the output (the
/// fallback ORs into it), and bytes past ceil(n/4) stay as they were.
#[test]
fn output_bytes_are_written_whole() {
    let set = golden();
    let input = set.inputs.get("gauss_1001_s3").unwrap().f32s();
    for qtype in QTYPES {
        let (want, want_scales) = fallback_output(&set, qtype, "gauss_1001_s3");
        let mut output = vec![0xFFu8; want.len() + 3];
        let mut scales = vec![f32::NAN; want_scales.len() + 1];
        quantize(&input, &mut output, &mut scales, qtype).unwrap();
        assert_eq!(&output[..want.len()], &want[..]);
        assert_eq!(&output[want.len()..], &[0xFF; 3]);
        assert_eq!(scales[..want_scales.len()], want_scales[..]);
        assert!(scales[want_scales.len()].is_nan());
    }
}
