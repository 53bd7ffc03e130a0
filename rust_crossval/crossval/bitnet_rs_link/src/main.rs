//! Runs, against whatever BITNET_CPP_DIR provides, what BitNet-rs's FFI
//! tests assert (ffi_quantize_matches_rust's shapes, test_kernel_correctness,
//! test_ffi_kernel_quantization), through the bitnet_cpp_* block declared as
//! crates/bitnet-kernels/src/ffi/bridge.rs declares it. Prints "have_cpp"
//! and exits 0 when every check passes; prints "stubs" and exits 3 when the
//! probe found no library (BitNet-rs would then skip its tests silently).

#[cfg(have_cpp)]
mod bridge {
    use std::ffi::{c_char, c_float, c_int, c_uchar};

    include!("../../bitnet_rs_bridge.rs");

    fn check(rc: c_int, what: &str) {
        if rc != 0 {
            // SAFETY: NULL or a NUL-terminated message.
            let ptr = unsafe { bitnet_cpp_get_last_error() };
            let message = if ptr.is_null() {
                "no message".into()
            } else {
                unsafe { std::ffi::CStr::from_ptr(ptr) }.to_string_lossy()
            };
            panic!("{what} failed with {rc}: {message}");
        }
    }

    pub fn run() {
        // SAFETY: plain calls; every buffer below holds what the call uses.
        unsafe {
            check(bitnet_cpp_init(), "bitnet_cpp_init");
            assert_ne!(bitnet_cpp_is_available(), 0);

            let a = [1i8, 2, 3, 4];
            let b = [1u8, 0, 0, 1];
            let mut c = [0f32; 4];
            check(bitnet_cpp_matmul_i2s(a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), 2, 2, 2), "matmul");
            assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);

            // ffi_quantize_matches_rust's buffers: n/4 bytes, n/32 scales.
            let input: Vec<f32> = (0..128).map(|i| ((i as f32) % 32.0 - 16.0) / 8.0).collect();
            for (qtype, written) in [(0, 4), (1, 2), (2, 1)] {
                let mut out = vec![0u8; 32];
                let mut scales = vec![0f32; 4];
                check(
                    bitnet_cpp_quantize(input.as_ptr(), 128, out.as_mut_ptr(), 32, scales.as_mut_ptr(), 4, qtype),
                    "quantize",
                );
                assert!(out.iter().any(|&x| x != 0));
                assert!(scales[..written].iter().all(|&s| s == 2.0 / 1.5), "qtype {qtype}: {scales:?}");
                assert!(scales[written..].iter().all(|&s| s == 0.0), "qtype {qtype}: {scales:?}");
            }

            // test_ffi_kernel_quantization.
            let input = [1.5f32, -1.0, 0.5, -0.5, 0.0, 2.0, -2.0, 0.1].repeat(4);
            let mut out = [0u8; 8];
            let mut scale = [0f32; 1];
            check(bitnet_cpp_quantize(input.as_ptr(), 32, out.as_mut_ptr(), 8, scale.as_mut_ptr(), 1, 0), "quantize");
            assert!(scale[0] > 0.0 && out.iter().any(|&x| x != 0));

            bitnet_cpp_cleanup();
        }
    }
}

fn main() {
    #[cfg(have_cpp)]
    {
        bridge::run();
        println!("have_cpp: every check passed");
    }
    #[cfg(not(have_cpp))]
    {
        println!("stubs: no C++ library found");
        std::process::exit(3);
    }
}
