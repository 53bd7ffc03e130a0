//! Raw declarations of `include/bitnet_quant.h`, libbitnet_quant's C ABI
//! (BitNet b1.58 ternary layouts: quantize, dequantize, transcode, absmean).
//!
//! Hand-written, not generated: one macro declares every function once and
//! derives from that list the `extern "C"` block (the linked library), a
//! table of function pointers ([`Functions`]) that either the linked symbols
//! or `dlsym` (feature `libloading`) fill in, and [`SIGNATURES`], which
//! `tests/bindings_drift.rs` compares with the header (names, parameter
//! names and types, constants evaluated by the C compiler, struct layouts)
//! so that the two cannot drift apart silently.
//!
//! The build script finds the library (`BITNET_QUANT_LIB_DIR`,
//! `BITNET_QUANT_DIR`, pkg-config, or the `bundled` feature) and links it;
//! without one, `cargo check` and `cargo doc` still work. The safe API is the
//! `bitnet-quant` crate.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type bitnet_format = i32;
pub type bitnet_cpu_target = u32;
pub type bitnet_device = i32;
pub type bitnet_backend = i32;
pub type bitnet_type = i32;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct bitnet_quant_options {
    pub struct_size: u32,
    pub block_size: u32,
    pub cpu_target: bitnet_cpu_target,
    pub device: bitnet_device,
    pub device_index: i32,
    pub flags: u32,
}

impl Default for bitnet_quant_options {
    /// `BITNET_QUANT_OPTIONS_INIT`.
    fn default() -> Self {
        bitnet_quant_options {
            struct_size: std::mem::size_of::<bitnet_quant_options>() as u32,
            block_size: 0,
            cpu_target: 0,
            device: 0,
            device_index: 0,
            flags: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_cuda_device_info {
    pub struct_size: u32,
    pub name: [c_char; 256],
    pub compute_major: i32,
    pub compute_minor: i32,
    pub multiprocessor_count: i32,
    pub usable: i32,
    pub total_memory: u64,
    pub free_memory: u64,
    pub supports_fp16: i32,
    pub supports_bf16: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_type_info {
    pub struct_size: u32,
    pub name: *const c_char,
    pub defined_by: *const c_char,
    pub block_elements: i64,
    pub block_bytes: u64,
    pub tail_bytes: u64,
    pub cols_multiple: i64,
    pub rows_multiple: i64,
    pub elements_multiple: i64,
    pub ternary: i32,
    pub can_quantize: i32,
    pub bits_per_weight: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct bitnet_tensor_options {
    pub struct_size: u32,
    pub flags: u32,
    pub cpu_target: bitnet_cpu_target,
    pub n_threads: i32,
    pub ternarize: i32,
    pub block_size: u32,
    pub group_size: i64,
    pub threshold: f32,
    pub reserved: u32,
}

impl Default for bitnet_tensor_options {
    /// `BITNET_TENSOR_OPTIONS_INIT`.
    fn default() -> Self {
        bitnet_tensor_options {
            struct_size: std::mem::size_of::<bitnet_tensor_options>() as u32,
            flags: 0,
            cpu_target: 0,
            n_threads: 0,
            ternarize: 0,
            block_size: 0,
            group_size: 0,
            threshold: 0.0,
            reserved: 0,
        }
    }
}

/// Ternary weights prepared on a GPU (`bitnet_cuda_gemm_prepare`); opaque.
#[repr(C)]
pub struct bitnet_cuda_gemm_weights {
    _private: [u8; 0],
    _not_send_sync_or_unpin: std::marker::PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_cuda_gemm_job {
    pub weights: *mut bitnet_cuda_gemm_weights,
    pub d_x: *const c_void,
    pub d_y: *mut f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct bitnet_gemm_options {
    pub struct_size: u32,
    pub flags: u32,
    pub cpu_target: bitnet_cpu_target,
    pub n_threads: i32,
    pub x_type: bitnet_type,
    pub reserved: i32,
    pub row_begin: i64,
    pub row_end: i64,
}

impl Default for bitnet_gemm_options {
    /// `BITNET_GEMM_OPTIONS_INIT`.
    fn default() -> Self {
        bitnet_gemm_options {
            struct_size: std::mem::size_of::<bitnet_gemm_options>() as u32,
            flags: 0,
            cpu_target: 0,
            n_threads: 0,
            x_type: BITNET_TYPE_F32,
            reserved: 0,
            row_begin: 0,
            row_end: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct bitnet_tensor_stats {
    pub struct_size: u32,
    pub reserved: u32,
    pub values: [u64; 5],
    pub scales: u64,
    pub nonfinite_scales: u64,
    pub scale_min: f32,
    pub scale_max: f32,
}

/// One C declaration as the Rust side spells it: parameter names and types
/// and the return type, as source text.
#[derive(Debug)]
pub struct Signature {
    pub name: &'static str,
    pub params: &'static [(&'static str, &'static str)],
    pub ret: &'static str,
}

macro_rules! bitnet_functions {
    ($( fn $name:ident( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)?; )*) => {
        extern "C" {
            $( pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
        }

        /// The entry points of one copy of the library.
        #[derive(Clone, Copy)]
        pub struct Functions {
            $( pub $name: unsafe extern "C" fn($($ty),*) $(-> $ret)?, )*
        }

        impl Functions {
            /// The library this crate is linked against.
            pub fn linked() -> Functions {
                Functions { $( $name, )* }
            }

            /// Looks every symbol up in a library opened with `dlopen`.
            ///
            /// # Errors
            /// The first symbol that library lacks (an older version).
            ///
            /// # Safety
            /// The pointers are valid while `library` stays loaded, and only
            /// if it really is libbitnet_quant with this header's ABI.
            #[cfg(feature = "libloading")]
            pub unsafe fn from_library(
                library: &libloading::Library,
            ) -> Result<Functions, libloading::Error> {
                Ok(Functions {
                    $( $name: *library.get(concat!(stringify!($name), "\0").as_bytes())?, )*
                })
            }
        }

        pub const SIGNATURES: &[Signature] = &[
            $( Signature {
                name: stringify!($name),
                params: &[$( (stringify!($arg), stringify!($ty)) ),*],
                ret: stringify!($($ret)?),
            }, )*
        ];
    };
}

bitnet_functions! {
    fn bitnet_status_string(status: c_int) -> *const c_char;
    fn bitnet_last_error() -> *const c_char;
    fn bitnet_version_number() -> c_uint;
    fn bitnet_version_string() -> *const c_char;
    fn bitnet_cpu_targets_compiled() -> bitnet_cpu_target;
    fn bitnet_cpu_targets_supported() -> bitnet_cpu_target;
    fn bitnet_cpu_target_name(target: bitnet_cpu_target) -> *const c_char;
    fn bitnet_cpu_target_from_name(name: *const c_char, target: *mut bitnet_cpu_target) -> c_int;
    fn bitnet_cpu_set_target(target: bitnet_cpu_target) -> c_int;
    fn bitnet_cpu_get_target() -> bitnet_cpu_target;
    fn bitnet_last_backend() -> bitnet_backend;
    fn bitnet_last_cpu_target() -> bitnet_cpu_target;
    fn bitnet_quant_options_init(options: *mut bitnet_quant_options, struct_size: usize) -> c_int;
    fn bitnet_quant_buffer_sizes(format: bitnet_format, options: *const bitnet_quant_options,
        n: usize, packed_len: *mut usize, scales_len: *mut usize) -> c_int;
    fn bitnet_packed_size(n: usize) -> usize;
    fn bitnet_quantize(format: bitnet_format, options: *const bitnet_quant_options,
        input: *const f32, n: usize, packed: *mut u8, packed_len: usize,
        scales: *mut f32, scales_len: usize) -> c_int;
    fn bitnet_dequantize(format: bitnet_format, options: *const bitnet_quant_options,
        packed: *const u8, packed_len: usize, scales: *const f32, scales_len: usize,
        output: *mut f32, n: usize) -> c_int;
    fn bitnet_quantize_i2s(input: *const f32, n: usize, packed: *mut u8, packed_len: usize,
        scales: *mut f32, scales_len: usize) -> c_int;
    fn bitnet_quantize_tl1(input: *const f32, n: usize, packed: *mut u8, packed_len: usize,
        scales: *mut f32, scales_len: usize) -> c_int;
    fn bitnet_quantize_tl2(input: *const f32, n: usize, packed: *mut u8, packed_len: usize,
        scales: *mut f32, scales_len: usize) -> c_int;
    fn bitnet_dequantize_i2s(packed: *const u8, packed_len: usize, scales: *const f32,
        scales_len: usize, output: *mut f32, n: usize) -> c_int;
    fn bitnet_dequantize_tl1(packed: *const u8, packed_len: usize, scales: *const f32,
        scales_len: usize, output: *mut f32, n: usize) -> c_int;
    fn bitnet_dequantize_tl2(packed: *const u8, packed_len: usize, scales: *const f32,
        scales_len: usize, output: *mut f32, n: usize) -> c_int;
    fn bitnet_cpp_init() -> c_int;
    fn bitnet_cpp_cleanup();
    fn bitnet_cpp_is_available() -> c_int;
    fn bitnet_cpp_matmul_i2s(a: *const i8, b: *const u8, c: *mut f32, m: c_int, n: c_int,
        k: c_int) -> c_int;
    fn bitnet_cpp_quantize(input: *const f32, input_len: c_int, output: *mut u8,
        output_len: c_int, scales: *mut f32, scales_len: c_int, qtype: c_int) -> c_int;
    fn bitnet_cpp_get_last_error() -> *const c_char;
    fn bitnet_type_get_info(r#type: bitnet_type, info: *mut bitnet_type_info) -> c_int;
    fn bitnet_type_name(r#type: bitnet_type) -> *const c_char;
    fn bitnet_type_from_name(name: *const c_char, r#type: *mut bitnet_type) -> c_int;
    fn bitnet_tensor_options_init(options: *mut bitnet_tensor_options, struct_size: usize) -> c_int;
    fn bitnet_tensor_size(r#type: bitnet_type, rows: i64, cols: i64, bytes: *mut usize) -> c_int;
    fn bitnet_tensor_quantize(dst_type: bitnet_type, options: *const bitnet_tensor_options,
        src_type: bitnet_type, src: *const c_void, rows: i64, cols: i64, dst: *mut c_void,
        dst_len: usize) -> c_int;
    fn bitnet_tensor_dequantize(src_type: bitnet_type, options: *const bitnet_tensor_options,
        src: *const c_void, src_len: usize, rows: i64, cols: i64, dst_type: bitnet_type,
        dst: *mut c_void, dst_len: usize) -> c_int;
    fn bitnet_tensor_transcode(dst_type: bitnet_type, options: *const bitnet_tensor_options,
        src_type: bitnet_type, src: *const c_void, src_len: usize, rows: i64, cols: i64,
        dst: *mut c_void, dst_len: usize) -> c_int;
    fn bitnet_tensor_stats_get(r#type: bitnet_type, options: *const bitnet_tensor_options,
        src: *const c_void, src_len: usize, rows: i64, cols: i64,
        stats: *mut bitnet_tensor_stats) -> c_int;
    fn bitnet_ternarize(options: *const bitnet_tensor_options, src_type: bitnet_type,
        src: *const c_void, rows: i64, cols: i64, codes: *mut i8, codes_len: usize,
        alphas: *mut f32, alphas_len: usize) -> c_int;
    fn bitnet_quantize_i8s(options: *const bitnet_tensor_options, src_type: bitnet_type,
        src: *const c_void, rows: i64, cols: i64, q: *mut i8, q_len: usize, scales: *mut f32,
        scales_len: usize, sums: *mut i32, sums_len: usize) -> c_int;
    fn bitnet_gemm_options_init(options: *mut bitnet_gemm_options, struct_size: usize) -> c_int;
    fn bitnet_gemm(w_type: bitnet_type, w: *const c_void, w_len: usize, rows: i64, cols: i64,
        x: *const f32, batch: i64, y: *mut f32, options: *const bitnet_gemm_options) -> c_int;
    fn bitnet_gemm_act_type(w_type: bitnet_type, act_type: *mut bitnet_type) -> c_int;
    fn bitnet_gemm_i8s(w: *const c_void, w_len: usize, rows: i64, cols: i64, q: *const i8,
        scales: *const f32, sums: *const i32, batch: i64, y: *mut f32,
        options: *const bitnet_gemm_options) -> c_int;
    fn bitnet_gemm_blocks(w_type: bitnet_type, w: *const c_void, w_len: usize, rows: i64, cols: i64,
        xq: *const c_void, xq_len: usize, batch: i64, y: *mut f32,
        options: *const bitnet_gemm_options) -> c_int;
    fn bitnet_cuda_device_count() -> c_int;
    fn bitnet_cuda_get_device_info(device_index: c_int, info: *mut bitnet_cuda_device_info) -> c_int;
    fn bitnet_cuda_quantize(format: bitnet_format, options: *const bitnet_quant_options,
        d_input: *const f32, n: usize, d_packed: *mut u8, packed_len: usize,
        d_scales: *mut f32, scales_len: usize, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_dequantize(format: bitnet_format, options: *const bitnet_quant_options,
        d_packed: *const u8, packed_len: usize, d_scales: *const f32, scales_len: usize,
        d_output: *mut f32, n: usize, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_kernel_quantize(format: bitnet_format, options: *const bitnet_quant_options,
        d_input: *const f32, n: usize, d_packed: *mut u8, packed_len: usize,
        d_scales: *mut f32, scales_len: usize, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_tensor_quantize(dst_type: bitnet_type, options: *const bitnet_tensor_options,
        src_type: bitnet_type, d_src: *const c_void, rows: i64, cols: i64, d_dst: *mut c_void,
        dst_len: usize, device_index: c_int, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_tensor_dequantize(src_type: bitnet_type, options: *const bitnet_tensor_options,
        d_src: *const c_void, src_len: usize, rows: i64, cols: i64, dst_type: bitnet_type,
        d_dst: *mut c_void, dst_len: usize, device_index: c_int, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_tensor_transcode(dst_type: bitnet_type, options: *const bitnet_tensor_options,
        src_type: bitnet_type, d_src: *const c_void, src_len: usize, rows: i64, cols: i64,
        d_dst: *mut c_void, dst_len: usize, device_index: c_int, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_gemm_prepare(w_type: bitnet_type, w: *const c_void, w_len: usize, rows: i64,
        cols: i64, device_index: c_int, weights: *mut *mut bitnet_cuda_gemm_weights) -> c_int;
    fn bitnet_cuda_gemm_free(weights: *mut bitnet_cuda_gemm_weights);
    fn bitnet_cuda_gemm(weights: *mut bitnet_cuda_gemm_weights, x_type: bitnet_type,
        d_x: *const c_void, batch: i64, d_y: *mut f32, stream: *mut c_void) -> c_int;
    fn bitnet_cuda_gemm_multi(jobs: *const bitnet_cuda_gemm_job, count: c_int, x_type: bitnet_type,
        batch: i64, stream: *mut c_void) -> c_int;
}

macro_rules! bitnet_constants {
    ($( $name:ident : $ty:ty = $value:expr; )*) => {
        $( pub const $name: $ty = $value; )*

        /// Every numeric constant of the header, for the drift test.
        pub const CONSTANTS: &[(&str, i64)] = &[ $( (stringify!($name), $name as i64), )* ];
    };
}

bitnet_constants! {
    BITNET_QUANT_VERSION_MAJOR: u32 = 0;
    BITNET_QUANT_VERSION_MINOR: u32 = 2;
    BITNET_QUANT_VERSION_PATCH: u32 = 0;
    BITNET_QUANT_VERSION_NUMBER: u32 = BITNET_QUANT_VERSION_MAJOR * 10000
        + BITNET_QUANT_VERSION_MINOR * 100 + BITNET_QUANT_VERSION_PATCH;

    BITNET_OK: c_int = 0;
    BITNET_E_NULL_POINTER: c_int = -1;
    BITNET_E_BUFFER_TOO_SMALL: c_int = -2;
    BITNET_E_SIZE_MISMATCH: c_int = -3;
    BITNET_E_SIZE_OVERFLOW: c_int = -4;
    BITNET_E_INVALID_BLOCK_SIZE: c_int = -5;
    BITNET_E_INVALID_FORMAT: c_int = -6;
    BITNET_E_INVALID_OPTIONS: c_int = -7;
    BITNET_E_ALL_NONFINITE: c_int = -8;
    BITNET_E_OVERLAP: c_int = -9;
    BITNET_E_MISALIGNED: c_int = -10;
    BITNET_E_UNSUPPORTED_TARGET: c_int = -11;
    BITNET_E_INVALID_ARGUMENT: c_int = -12;
    BITNET_E_DEVICE_UNAVAILABLE: c_int = -13;
    BITNET_E_DEVICE_FAILURE: c_int = -14;
    BITNET_E_INVALID_TYPE: c_int = -15;
    BITNET_E_INVALID_SHAPE: c_int = -16;
    BITNET_E_INEXACT_SCALE: c_int = -17;
    BITNET_E_INVALID_DATA: c_int = -18;
    BITNET_E_OUT_OF_MEMORY: c_int = -19;

    BITNET_FORMAT_I2S: bitnet_format = 0;
    BITNET_FORMAT_TL1: bitnet_format = 1;
    BITNET_FORMAT_TL2: bitnet_format = 2;
    BITNET_I2S_DEFAULT_BLOCK_SIZE: u32 = 32;
    BITNET_TL1_DEFAULT_BLOCK_SIZE: u32 = 64;
    BITNET_TL2_DEFAULT_BLOCK_SIZE: u32 = 128;
    BITNET_MIN_BLOCK_SIZE: u32 = 4;
    BITNET_MAX_BLOCK_SIZE: u32 = 1 << 20;
    BITNET_QUANT_OPTIONS_SIZE_V1: u32 = 24;

    BITNET_CPU_AUTO: bitnet_cpu_target = 0;
    BITNET_CPU_REFERENCE: bitnet_cpu_target = 1 << 0;
    BITNET_CPU_SCALAR: bitnet_cpu_target = 1 << 1;
    BITNET_CPU_EMU128: bitnet_cpu_target = 1 << 2;
    BITNET_CPU_SSSE3: bitnet_cpu_target = 1 << 3;
    BITNET_CPU_SSE4: bitnet_cpu_target = 1 << 4;
    BITNET_CPU_AVX2: bitnet_cpu_target = 1 << 5;
    BITNET_CPU_AVX3: bitnet_cpu_target = 1 << 6;
    BITNET_CPU_AVX3_DL: bitnet_cpu_target = 1 << 7;
    BITNET_CPU_NEON: bitnet_cpu_target = 1 << 8;
    BITNET_CPU_SVE: bitnet_cpu_target = 1 << 9;
    BITNET_CPU_SVE2: bitnet_cpu_target = 1 << 10;

    BITNET_DEVICE_AUTO: bitnet_device = 0;
    BITNET_DEVICE_CPU: bitnet_device = 1;
    BITNET_DEVICE_CUDA: bitnet_device = 2;

    BITNET_BACKEND_NONE: bitnet_backend = 0;
    BITNET_BACKEND_CPU: bitnet_backend = 1;
    BITNET_BACKEND_CUDA: bitnet_backend = 2;
    BITNET_BACKEND_CPU_FALLBACK: bitnet_backend = 3;

    BITNET_FLAG_STRICT: u32 = 0x1;
    BITNET_FLAG_NOT_STRICT: u32 = 0x2;

    BITNET_TYPE_F32: bitnet_type = 0;
    BITNET_TYPE_F16: bitnet_type = 1;
    BITNET_TYPE_Q8_0: bitnet_type = 8;
    BITNET_TYPE_Q8_K: bitnet_type = 15;
    BITNET_TYPE_IQ2_S: bitnet_type = 22;
    BITNET_TYPE_BF16: bitnet_type = 30;
    BITNET_TYPE_TQ1_0: bitnet_type = 34;
    BITNET_TYPE_TQ2_0: bitnet_type = 35;
    BITNET_TYPE_I2_S: bitnet_type = 36;
    BITNET_TYPE_I8_S: bitnet_type = 37;
    BITNET_TYPE_Q2_0: bitnet_type = 42;
    BITNET_TYPE_HF_BITNET: bitnet_type = 0x10001;
    BITNET_TYPE_BITNET_RS_I2S: bitnet_type = 0x10002;

    BITNET_TENSOR_ALLOW_SCALE_ROUNDING: u32 = 0x1;
    BITNET_TENSOR_UNIT_SCALE: u32 = 0x2;
    BITNET_TENSOR_CACHED_OUTPUT: u32 = 0x4;
    BITNET_TERNARIZE_NONE: i32 = 0;
    BITNET_TERNARIZE_ABSMEAN: i32 = 1;
    BITNET_GEMM_ROW_RANGE: u32 = 0x1;
    BITNET_TENSOR_OPTIONS_SIZE_V1: u32 = 40;
}

/// `BITNET_QUANT_VERSION_STRING`.
pub const BITNET_QUANT_VERSION_STRING: &str = "0.2.0";
