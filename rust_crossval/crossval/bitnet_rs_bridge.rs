// The bitnet_cpp_* block exactly as BitNet-rs declares it in
// crates/bitnet-kernels/src/ffi/bridge.rs; included by the link test program
// (bitnet_rs_link) and by tests/bitnet_rs_ffi.rs so that both use one copy.
extern "C" {
    fn bitnet_cpp_init() -> c_int;
    fn bitnet_cpp_cleanup();
    fn bitnet_cpp_is_available() -> c_int;
    fn bitnet_cpp_matmul_i2s(
        a: *const i8,
        b: *const c_uchar,
        c: *mut c_float,
        m: c_int,
        n: c_int,
        k: c_int,
    ) -> c_int;
    fn bitnet_cpp_quantize(
        input: *const c_float,
        input_len: c_int,
        output: *mut c_uchar,
        output_len: c_int,
        scales: *mut c_float,
        scales_len: c_int,
        qtype: c_int,
    ) -> c_int;
    fn bitnet_cpp_get_last_error() -> *const c_char;
}
