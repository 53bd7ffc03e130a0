//! The safe Rust API of libbitnet_quant: BitNet b1.58 ternary weights in the
//! layouts of real model files (ggml TQ1_0/TQ2_0/Q2_0, bitnet.cpp I2_S,
//! transformers' packed layout, BitNet-rs), encoded, decoded and converted
//! bit for bit, on every CPU.
//!
//! One [`Library`] type works over either the linked library
//! ([`Library::linked`], the common path) or a copy opened at run time
//! ([`Library::load`], as other languages `dlopen` it), so both reach
//! exactly the same Rust code. Raw declarations are in [`sys`]
//! (the `bitnet-quant-sys` crate).
//!
//! ```
//! use bitnet_quant::{Library, TensorType};
//!
//! let lib = Library::linked();
//! // A 2 x 256 f32 matrix -> ggml's TQ2_0 (absmean-ternarized first) -> f32.
//! let weights: Vec<f32> = (0..512).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect();
//! let tq2 = lib.quantize_tensor(TensorType::TQ2_0, &weights, 2, 256, &Default::default())?;
//! assert_eq!((tq2.rows(), tq2.cols(), tq2.bytes().len()), (2, 256, 2 * 66));
//! let restored: Vec<f32> = lib.dequantize_tensor(&tq2)?;
//! assert_eq!(restored.len(), 512);
//! // Re-pack the same codes into bitnet.cpp's I2_S without a float round trip.
//! let i2s = lib.transcode(&tq2, TensorType::I2_S, &Default::default())?;
//! assert_eq!(lib.dequantize_tensor::<f32>(&i2s)?, restored);
//! # Ok::<(), bitnet_quant::Error>(())
//! ```
use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};

pub use bitnet_quant_sys as sys;
pub use half::{bf16, f16};

mod gemm;
mod tensor;
pub use gemm::*;
pub use tensor::*;

/// A quantization format, numbered as BitNet-rs numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    I2S,
    TL1,
    TL2,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::I2S, Format::TL1, Format::TL2];

    pub fn raw(self) -> sys::bitnet_format {
        match self {
            Format::I2S => sys::BITNET_FORMAT_I2S,
            Format::TL1 => sys::BITNET_FORMAT_TL1,
            Format::TL2 => sys::BITNET_FORMAT_TL2,
        }
    }

    /// Block size of the fixed-format entry points and of `bitnet_cpp_quantize`.
    pub fn default_block_size(self) -> usize {
        match self {
            Format::I2S => sys::BITNET_I2S_DEFAULT_BLOCK_SIZE as usize,
            Format::TL1 => sys::BITNET_TL1_DEFAULT_BLOCK_SIZE as usize,
            Format::TL2 => sys::BITNET_TL2_DEFAULT_BLOCK_SIZE as usize,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::I2S => "I2_S",
            Format::TL1 => "TL1",
            Format::TL2 => "TL2",
        }
    }
}

/// One `BITNET_CPU_*` bit, or `AUTO` (0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuTarget(pub sys::bitnet_cpu_target);

impl CpuTarget {
    pub const AUTO: CpuTarget = CpuTarget(sys::BITNET_CPU_AUTO);
    pub const REFERENCE: CpuTarget = CpuTarget(sys::BITNET_CPU_REFERENCE);

    /// The single-bit targets of a mask, lowest bit (REFERENCE) first.
    pub fn from_mask(mask: sys::bitnet_cpu_target) -> Vec<CpuTarget> {
        (0..32).map(|bit| 1u32 << bit).filter(|b| mask & b != 0).map(CpuTarget).collect()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Device {
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl Device {
    fn raw(self) -> sys::bitnet_device {
        match self {
            Device::Auto => sys::BITNET_DEVICE_AUTO,
            Device::Cpu => sys::BITNET_DEVICE_CPU,
            Device::Cuda => sys::BITNET_DEVICE_CUDA,
        }
    }
}

/// What ran the most recent successful call on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    None,
    Cpu,
    Cuda,
    CpuFallback,
    /// A value this binding does not know (a newer library).
    Other(i32),
}

/// `bitnet_quant_options` without `struct_size`, which the binding fills in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// 0 = the format's default.
    pub block_size: u32,
    pub cpu_target: CpuTarget,
    pub device: Device,
    pub device_index: i32,
    /// `BITNET_FLAG_*`.
    pub flags: u32,
}

impl Options {
    pub fn block(block_size: u32) -> Options {
        Options { block_size, ..Options::default() }
    }

    pub fn on(self, cpu_target: CpuTarget) -> Options {
        Options { cpu_target, ..self }
    }

    fn raw(&self) -> sys::bitnet_quant_options {
        sys::bitnet_quant_options {
            block_size: self.block_size,
            cpu_target: self.cpu_target.0,
            device: self.device.raw(),
            device_index: self.device_index,
            flags: self.flags,
            ..sys::bitnet_quant_options::default()
        }
    }
}

/// What went wrong, one variant per `BITNET_E_*` status; match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    NullPointer,
    BufferTooSmall,
    SizeMismatch,
    SizeOverflow,
    InvalidBlockSize,
    InvalidFormat,
    InvalidOptions,
    AllNonFinite,
    Overlap,
    Misaligned,
    UnsupportedTarget,
    InvalidArgument,
    DeviceUnavailable,
    DeviceFailure,
    InvalidType,
    InvalidShape,
    InexactScale,
    InvalidData,
    OutOfMemory,
    /// A status this binding does not know (a newer library).
    Other(i32),
}

impl ErrorKind {
    pub fn from_status(status: i32) -> ErrorKind {
        match status {
            sys::BITNET_E_NULL_POINTER => ErrorKind::NullPointer,
            sys::BITNET_E_BUFFER_TOO_SMALL => ErrorKind::BufferTooSmall,
            sys::BITNET_E_SIZE_MISMATCH => ErrorKind::SizeMismatch,
            sys::BITNET_E_SIZE_OVERFLOW => ErrorKind::SizeOverflow,
            sys::BITNET_E_INVALID_BLOCK_SIZE => ErrorKind::InvalidBlockSize,
            sys::BITNET_E_INVALID_FORMAT => ErrorKind::InvalidFormat,
            sys::BITNET_E_INVALID_OPTIONS => ErrorKind::InvalidOptions,
            sys::BITNET_E_ALL_NONFINITE => ErrorKind::AllNonFinite,
            sys::BITNET_E_OVERLAP => ErrorKind::Overlap,
            sys::BITNET_E_MISALIGNED => ErrorKind::Misaligned,
            sys::BITNET_E_UNSUPPORTED_TARGET => ErrorKind::UnsupportedTarget,
            sys::BITNET_E_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
            sys::BITNET_E_DEVICE_UNAVAILABLE => ErrorKind::DeviceUnavailable,
            sys::BITNET_E_DEVICE_FAILURE => ErrorKind::DeviceFailure,
            sys::BITNET_E_INVALID_TYPE => ErrorKind::InvalidType,
            sys::BITNET_E_INVALID_SHAPE => ErrorKind::InvalidShape,
            sys::BITNET_E_INEXACT_SCALE => ErrorKind::InexactScale,
            sys::BITNET_E_INVALID_DATA => ErrorKind::InvalidData,
            sys::BITNET_E_OUT_OF_MEMORY => ErrorKind::OutOfMemory,
            other => ErrorKind::Other(other),
        }
    }
}

/// A failed call: what kind of failure ([`Error::kind`]), the library's
/// status code, and its message for this call (which argument, which size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: i32,
    pub message: String,
}

impl Error {
    pub(crate) fn new(status: i32, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_status(self.status)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({}): {}", self.kind(), self.status, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Packed 2-bit codes (ceil(n/4) bytes) and one scale per block, the
/// buffers of the BitNet-rs-numbered formats ([`Format`]). The tensor
/// layouts of model files are [`Tensor`]s, which remember type and shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quantized {
    pub packed: Vec<u8>,
    pub scales: Vec<f32>,
}

/// What `bitnet_cuda_get_device_info` reports about one GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaDeviceInfo {
    pub name: String,
    pub compute_capability: (i32, i32),
    pub multiprocessor_count: i32,
    /// The library's kernels run on it.
    pub usable: bool,
    pub total_memory: u64,
    pub free_memory: u64,
    pub supports_fp16: bool,
    pub supports_bf16: bool,
}

/// GPU buffers of one quantize call: device (or managed) pointers and their
/// lengths in elements, as `bitnet_cuda_quantize` takes them.
#[derive(Clone, Copy, Debug)]
pub struct DeviceQuantizeBuffers {
    pub input: *const f32,
    pub n: usize,
    pub packed: *mut u8,
    pub packed_len: usize,
    pub scales: *mut f32,
    pub scales_len: usize,
}

/// libbitnet_quant, linked or loaded.
pub struct Library {
    functions: sys::Functions,
    /// Who may change the process-wide target now, and the live guards.
    target_lock: TargetLock,
    // Declared last: dropped (dlclose) after nothing can use the pointers.
    _handle: Option<libloading::Library>,
}

fn c_string(ptr: *const c_char) -> Option<String> {
    // SAFETY: the library returns NULL or a NUL-terminated string that stays
    // valid at least until the next call on this thread.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// `bitnet_{quantize,dequantize}_{i2s,tl1,tl2}`: three buffers, each a
/// pointer then its length.
type DefaultBlockQuantize = unsafe extern "C" fn(*const f32, usize, *mut u8, usize, *mut f32, usize) -> c_int;
type DefaultBlockDequantize = unsafe extern "C" fn(*const u8, usize, *const f32, usize, *mut f32, usize) -> c_int;

/// A slice as the C functions take a buffer: a pointer (const for input,
/// mut for output) and the slice's length.
trait CBuffer {
    type Ptr;
    fn ptr_len(self) -> (Self::Ptr, usize);
}

impl<T> CBuffer for &[T] {
    type Ptr = *const T;
    fn ptr_len(self) -> (*const T, usize) {
        (self.as_ptr(), self.len())
    }
}

impl<T> CBuffer for &mut [T] {
    type Ptr = *mut T;
    fn ptr_len(self) -> (*mut T, usize) {
        (self.as_mut_ptr(), self.len())
    }
}

fn c_len(name: &str, len: usize) -> Result<c_int> {
    c_int::try_from(len).map_err(|_| {
        Error::new(sys::BITNET_E_SIZE_OVERFLOW, format!("{name} is {len}; the bitnet_cpp_* functions take a C int"))
    })
}

impl Library {
    /// The library this crate links (found by build.rs).
    pub fn linked() -> &'static Library {
        static LINKED: OnceLock<Library> = OnceLock::new();
        LINKED.get_or_init(|| Library {
            functions: sys::Functions::linked(),
            target_lock: TargetLock::default(),
            _handle: None,
        })
    }

    /// Opens a libbitnet_quant with `dlopen` and looks up every function.
    ///
    /// # Errors
    /// The loader's error, or the first function the library lacks.
    ///
    /// # Safety
    /// As for `libloading::Library::new`: loading runs the file's
    /// initialisers, and every call later trusts that the file really is
    /// libbitnet_quant with the ABI of this crate's header (an unrelated
    /// library that exports the same names is undefined behaviour).
    pub unsafe fn load(path: impl AsRef<OsStr>) -> std::result::Result<Library, libloading::Error> {
        let handle = libloading::Library::new(path.as_ref())?;
        // The pointers live in `Library` next to `handle`, which keeps the
        // library loaded.
        let functions = sys::Functions::from_library(&handle)?;
        Ok(Library { functions, target_lock: TargetLock::default(), _handle: Some(handle) })
    }

    /// What to pass to [`Library::load`]: `$BITNET_QUANT_LIBRARY`, else the
    /// versioned file name, which the system loader resolves.
    pub fn default_path() -> PathBuf {
        match std::env::var_os("BITNET_QUANT_LIBRARY") {
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(format!("libbitnet_quant.so.{}", sys::BITNET_QUANT_VERSION_MAJOR)),
        }
    }

    fn check(&self, status: c_int, message: unsafe extern "C" fn() -> *const c_char) -> Result<()> {
        if status == sys::BITNET_OK {
            return Ok(());
        }
        // SAFETY: no arguments; reads this thread's message.
        let message = c_string(unsafe { message() }).unwrap_or_else(|| self.status_string(status));
        Err(Error { status, message })
    }

    fn check_status(&self, status: c_int) -> Result<()> {
        self.check(status, self.functions.bitnet_last_error)
    }

    // ---- errors and version ---------------------------------------------

    pub fn status_string(&self, status: i32) -> String {
        // SAFETY: returns a static string for any value.
        c_string(unsafe { (self.functions.bitnet_status_string)(status) }).unwrap_or_default()
    }

    /// The message of the last failing call on this thread.
    pub fn last_error(&self) -> Option<String> {
        // SAFETY: no arguments.
        c_string(unsafe { (self.functions.bitnet_last_error)() })
    }

    pub fn version_number(&self) -> u32 {
        // SAFETY: no arguments.
        unsafe { (self.functions.bitnet_version_number)() }
    }

    pub fn version_string(&self) -> String {
        // SAFETY: no arguments.
        c_string(unsafe { (self.functions.bitnet_version_string)() }).unwrap_or_default()
    }

    // ---- CPU targets and backends ---------------------------------------

    pub fn cpu_targets_compiled(&self) -> Vec<CpuTarget> {
        // SAFETY: no arguments.
        CpuTarget::from_mask(unsafe { (self.functions.bitnet_cpu_targets_compiled)() })
    }

    /// The targets this CPU can run, REFERENCE first.
    pub fn cpu_targets_supported(&self) -> Vec<CpuTarget> {
        // SAFETY: no arguments.
        CpuTarget::from_mask(unsafe { (self.functions.bitnet_cpu_targets_supported)() })
    }

    pub fn cpu_target_name(&self, target: CpuTarget) -> String {
        // SAFETY: returns a static string for any value.
        c_string(unsafe { (self.functions.bitnet_cpu_target_name)(target.0) }).unwrap_or_default()
    }

    pub fn cpu_target_from_name(&self, name: &str) -> Result<CpuTarget> {
        let name = c_name(name)?;
        let mut target = 0;
        // SAFETY: both pointers are valid for the call.
        let status = unsafe { (self.functions.bitnet_cpu_target_from_name)(name.as_ptr(), &mut target) };
        self.check_status(status).map(|()| CpuTarget(target))
    }

    /// Sets the process-wide target until the guard is dropped (also on
    /// panic), which restores the one before. For the functions that take
    /// no options (`bitnet_cpp_*`, the fixed-format entry points); elsewhere
    /// prefer `Options::cpu_target` or `TensorOptions::cpu_target` per call.
    ///
    /// Other threads see the target at once. Guards nest on one thread: a
    /// guard taken while another of this `Library` lives on the same thread
    /// overrides it, and dropping the inner one gives the outer target back.
    /// Guards of other threads wait until every guard of this thread is
    /// gone. The target in force is always that of the newest live guard, so
    /// a guard dropped before a newer one (out of order) changes nothing
    /// until the newer one goes too; with no guard left, the target is
    /// `AUTO` again (the library's default, `BITNET_CPU_TARGET` included).
    /// A guard cannot move to another thread:
    ///
    /// ```compile_fail
    /// let guard = bitnet_quant::Library::linked().override_cpu_target(bitnet_quant::CpuTarget::REFERENCE)?;
    /// std::thread::spawn(move || drop(guard));
    /// # Ok::<(), bitnet_quant::Error>(())
    /// ```
    ///
    /// A guard given to `std::mem::forget` keeps its target, and other
    /// threads' guards wait forever, as with a forgotten `MutexGuard`.
    pub fn override_cpu_target(&self, target: CpuTarget) -> Result<CpuTargetGuard<'_>> {
        let me = thread::current().id();
        let mut state = self.target_lock.state();
        while state.owner.is_some_and(|owner| owner != me) {
            state = self.target_lock.released.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        self.set_process_target(target)?;
        state.owner = Some(me);
        let id = state.next_id;
        state.next_id += 1;
        state.live.push((id, target));
        Ok(CpuTargetGuard { library: self, id, target, _same_thread: PhantomData })
    }

    fn set_process_target(&self, target: CpuTarget) -> Result<()> {
        // SAFETY: plain value.
        self.check_status(unsafe { (self.functions.bitnet_cpu_set_target)(target.0) })
    }

    /// The target a call without an explicit one runs on now.
    pub fn cpu_target(&self) -> Result<CpuTarget> {
        // SAFETY: no arguments.
        match unsafe { (self.functions.bitnet_cpu_get_target)() } {
            0 => Err(Error::new(sys::BITNET_E_UNSUPPORTED_TARGET, self.last_error().unwrap_or_default())),
            target => Ok(CpuTarget(target)),
        }
    }

    /// Runs `f` under [`Library::override_cpu_target`].
    pub fn with_cpu_target<R>(&self, target: CpuTarget, f: impl FnOnce() -> R) -> Result<R> {
        let _guard = self.override_cpu_target(target)?;
        Ok(f())
    }

    pub fn last_backend(&self) -> Backend {
        // SAFETY: no arguments.
        match unsafe { (self.functions.bitnet_last_backend)() } {
            sys::BITNET_BACKEND_NONE => Backend::None,
            sys::BITNET_BACKEND_CPU => Backend::Cpu,
            sys::BITNET_BACKEND_CUDA => Backend::Cuda,
            sys::BITNET_BACKEND_CPU_FALLBACK => Backend::CpuFallback,
            other => Backend::Other(other),
        }
    }

    // ---- quantize / dequantize ------------------------------------------

    /// (packed bytes, scales) that `n` elements need.
    pub fn buffer_sizes(&self, format: Format, options: &Options, n: usize) -> Result<(usize, usize)> {
        let (mut packed, mut scales) = (0, 0);
        let raw = options.raw();
        // SAFETY: all pointers are valid for the call.
        let status =
            unsafe { (self.functions.bitnet_quant_buffer_sizes)(format.raw(), &raw, n, &mut packed, &mut scales) };
        self.check_status(status).map(|()| (packed, scales))
    }

    /// ceil(n/4).
    pub fn packed_size(&self, n: usize) -> usize {
        // SAFETY: plain value.
        unsafe { (self.functions.bitnet_packed_size)(n) }
    }

    pub fn quantize(&self, format: Format, options: &Options, input: &[f32]) -> Result<Quantized> {
        let (packed_len, scales_len) = self.buffer_sizes(format, options, input.len())?;
        let mut out = Quantized { packed: vec![0; packed_len], scales: vec![0.0; scales_len] };
        self.quantize_into(format, options, input, &mut out.packed, &mut out.scales)?;
        Ok(out)
    }

    /// Writes ceil(n/4) bytes and ceil(n/block) scales; the rest of the
    /// buffers is left as it was.
    pub fn quantize_into(
        &self,
        format: Format,
        options: &Options,
        input: &[f32],
        packed: &mut [u8],
        scales: &mut [f32],
    ) -> Result<()> {
        let (format, raw) = (format.raw(), options.raw());
        self.call_with_buffers((input, packed, scales), |input, n, packed, packed_len, scales, scales_len| {
            // SAFETY: lengths are the slices' own; the library checks that
            // they are large enough and writes nothing past them.
            unsafe { (self.functions.bitnet_quantize)(format, &raw, input, n, packed, packed_len, scales, scales_len) }
        })
    }

    pub fn dequantize(
        &self,
        format: Format,
        options: &Options,
        packed: &[u8],
        scales: &[f32],
        n: usize,
    ) -> Result<Vec<f32>> {
        let mut output = vec![0.0; n];
        self.dequantize_into(format, options, packed, scales, &mut output)?;
        Ok(output)
    }

    /// Decodes `output.len()` elements.
    pub fn dequantize_into(
        &self,
        format: Format,
        options: &Options,
        packed: &[u8],
        scales: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        let (format, raw) = (format.raw(), options.raw());
        self.call_with_buffers((packed, scales, output), |packed, packed_len, scales, scales_len, output, n| {
            // SAFETY: lengths are the slices' own; the library checks them.
            unsafe {
                (self.functions.bitnet_dequantize)(format, &raw, packed, packed_len, scales, scales_len, output, n)
            }
        })
    }

    /// `bitnet_quantize_{i2s,tl1,tl2}`: the default block size and the
    /// process-wide CPU target.
    pub fn quantize_default_block(
        &self,
        format: Format,
        input: &[f32],
        packed: &mut [u8],
        scales: &mut [f32],
    ) -> Result<()> {
        let (quantize, _) = self.default_block_entry_points(format);
        self.call_with_buffers((input, packed, scales), |input, n, packed, packed_len, scales, scales_len| {
            // SAFETY: as in quantize_into.
            unsafe { quantize(input, n, packed, packed_len, scales, scales_len) }
        })
    }

    /// `bitnet_dequantize_{i2s,tl1,tl2}`.
    pub fn dequantize_default_block(
        &self,
        format: Format,
        packed: &[u8],
        scales: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        let (_, dequantize) = self.default_block_entry_points(format);
        self.call_with_buffers((packed, scales, output), |packed, packed_len, scales, scales_len, output, n| {
            // SAFETY: as in dequantize_into.
            unsafe { dequantize(packed, packed_len, scales, scales_len, output, n) }
        })
    }

    /// `bitnet_quantize_*` and `bitnet_dequantize_*` of a format.
    fn default_block_entry_points(&self, format: Format) -> (DefaultBlockQuantize, DefaultBlockDequantize) {
        let f = &self.functions;
        match format {
            Format::I2S => (f.bitnet_quantize_i2s, f.bitnet_dequantize_i2s),
            Format::TL1 => (f.bitnet_quantize_tl1, f.bitnet_dequantize_tl1),
            Format::TL2 => (f.bitnet_quantize_tl2, f.bitnet_dequantize_tl2),
        }
    }

    /// Calls `entry` with the pointer and length of each buffer, in the
    /// order the quantize and dequantize functions take them, and checks
    /// its status.
    fn call_with_buffers<A: CBuffer, B: CBuffer, C: CBuffer>(
        &self,
        (a, b, c): (A, B, C),
        entry: impl FnOnce(A::Ptr, usize, B::Ptr, usize, C::Ptr, usize) -> c_int,
    ) -> Result<()> {
        let ((a, a_len), (b, b_len), (c, c_len)) = (a.ptr_len(), b.ptr_len(), c.ptr_len());
        self.check_status(entry(a, a_len, b, b_len, c, c_len))
    }

    // ---- the BitNet-rs FFI contract (bitnet_cpp_*) ------------------------

    fn check_cpp(&self, status: c_int) -> Result<()> {
        self.check(status, self.functions.bitnet_cpp_get_last_error)
    }

    /// Checks that the default CPU kernels can run (a bad `BITNET_CPU_TARGET`
    /// fails here). Nothing needs it: the library keeps no state to set up.
    pub fn cpp_init(&self) -> Result<()> {
        // SAFETY: no arguments.
        self.check_cpp(unsafe { (self.functions.bitnet_cpp_init)() })
    }

    pub fn cpp_cleanup(&self) {
        // SAFETY: no arguments; it does nothing, with or without init.
        unsafe { (self.functions.bitnet_cpp_cleanup)() }
    }

    pub fn cpp_is_available(&self) -> bool {
        // SAFETY: no arguments.
        unsafe { (self.functions.bitnet_cpp_is_available)() != 0 }
    }

    pub fn cpp_last_error(&self) -> Option<String> {
        // SAFETY: no arguments.
        c_string(unsafe { (self.functions.bitnet_cpp_get_last_error)() })
    }

    /// BitNet-rs's `KernelProvider::quantize` (family B); `qtype` 0/1/2.
    /// Writes ceil(n/4) bytes and ceil(n/block) scales, leaves the rest.
    pub fn cpp_quantize(&self, input: &[f32], output: &mut [u8], scales: &mut [f32], qtype: i32) -> Result<()> {
        let input_len = c_len("input length", input.len())?;
        let output_len = c_len("output length", output.len())?;
        let scales_len = c_len("scales length", scales.len())?;
        // SAFETY: lengths are the slices' own; the library checks them.
        let status = unsafe {
            (self.functions.bitnet_cpp_quantize)(
                input.as_ptr(),
                input_len,
                output.as_mut_ptr(),
                output_len,
                scales.as_mut_ptr(),
                scales_len,
                qtype,
            )
        };
        self.check_cpp(status)
    }

    /// C[m×n] = A[m×k] · B[k×n], row-major; B holds unpacked u8 values.
    pub fn cpp_matmul_i2s(&self, a: &[i8], b: &[u8], c: &mut [f32], m: usize, n: usize, k: usize) -> Result<()> {
        // The library cannot see slice lengths: they are checked here.
        for (name, len, rows, cols) in [("a", a.len(), m, k), ("b", b.len(), k, n), ("c", c.len(), m, n)] {
            if rows.checked_mul(cols) != Some(len) {
                return Err(Error::new(
                    sys::BITNET_E_SIZE_MISMATCH,
                    format!("{name} has {len} elements; {rows} x {cols} expected"),
                ));
            }
        }
        let (m, n, k) = (c_len("m", m)?, c_len("n", n)?, c_len("k", k)?);
        // SAFETY: the slices hold exactly m*k, k*n and m*n elements.
        let status = unsafe { (self.functions.bitnet_cpp_matmul_i2s)(a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), m, n, k) };
        self.check_cpp(status)
    }

    // ---- CUDA -----------------------------------------------------------

    /// GPUs the library can see; 0 without CUDA, a driver or a GPU.
    pub fn cuda_device_count(&self) -> usize {
        // SAFETY: no arguments.
        usize::try_from(unsafe { (self.functions.bitnet_cuda_device_count)() }).unwrap_or(0)
    }

    pub fn cuda_device_info(&self, device_index: i32) -> Result<CudaDeviceInfo> {
        let mut info = sys::bitnet_cuda_device_info {
            struct_size: std::mem::size_of::<sys::bitnet_cuda_device_info>() as u32,
            name: [0; 256],
            compute_major: 0,
            compute_minor: 0,
            multiprocessor_count: 0,
            usable: 0,
            total_memory: 0,
            free_memory: 0,
            supports_fp16: 0,
            supports_bf16: 0,
        };
        // SAFETY: `info` is a valid, writable struct of the header's layout.
        self.check_status(unsafe { (self.functions.bitnet_cuda_get_device_info)(device_index, &mut info) })?;
        let name_len = info.name.iter().position(|&c| c == 0).unwrap_or(info.name.len());
        Ok(CudaDeviceInfo {
            name: String::from_utf8_lossy(&info.name[..name_len].iter().map(|&c| c as u8).collect::<Vec<_>>())
                .into_owned(),
            compute_capability: (info.compute_major, info.compute_minor),
            multiprocessor_count: info.multiprocessor_count,
            usable: info.usable != 0,
            total_memory: info.total_memory,
            free_memory: info.free_memory,
            supports_fp16: info.supports_fp16 != 0,
            supports_bf16: info.supports_bf16 != 0,
        })
    }

    /// `bitnet_cuda_quantize` (family A) on GPU buffers, enqueued on `stream`.
    ///
    /// # Safety
    /// The pointers must be device-accessible allocations of at least the
    /// given lengths on the GPU `options.device_index` names, and `stream` a
    /// `cudaStream_t` of that GPU or null; the outputs may be read only after
    /// the stream has synchronized.
    pub unsafe fn cuda_quantize(
        &self,
        format: Format,
        options: &Options,
        buffers: DeviceQuantizeBuffers,
        stream: *mut c_void,
    ) -> Result<()> {
        self.cuda_quantize_with(self.functions.bitnet_cuda_quantize, format, options, buffers, stream)
    }

    /// `bitnet_cuda_kernel_quantize` (family B, as `bitnet_cpp_quantize`).
    ///
    /// # Safety
    /// As for [`Library::cuda_quantize`].
    pub unsafe fn cuda_kernel_quantize(
        &self,
        format: Format,
        options: &Options,
        buffers: DeviceQuantizeBuffers,
        stream: *mut c_void,
    ) -> Result<()> {
        self.cuda_quantize_with(self.functions.bitnet_cuda_kernel_quantize, format, options, buffers, stream)
    }

    #[allow(clippy::type_complexity)]
    unsafe fn cuda_quantize_with(
        &self,
        entry: unsafe extern "C" fn(
            sys::bitnet_format,
            *const sys::bitnet_quant_options,
            *const f32,
            usize,
            *mut u8,
            usize,
            *mut f32,
            usize,
            *mut c_void,
        ) -> c_int,
        format: Format,
        options: &Options,
        b: DeviceQuantizeBuffers,
        stream: *mut c_void,
    ) -> Result<()> {
        let raw = options.raw();
        self.check_status(entry(
            format.raw(),
            &raw,
            b.input,
            b.n,
            b.packed,
            b.packed_len,
            b.scales,
            b.scales_len,
            stream,
        ))
    }

    /// `bitnet_cuda_dequantize` on GPU buffers, enqueued on `stream`.
    ///
    /// # Safety
    /// As for [`Library::cuda_quantize`], for `packed`, `scales` and `output`.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn cuda_dequantize(
        &self,
        format: Format,
        options: &Options,
        packed: *const u8,
        packed_len: usize,
        scales: *const f32,
        scales_len: usize,
        output: *mut f32,
        n: usize,
        stream: *mut c_void,
    ) -> Result<()> {
        let raw = options.raw();
        self.check_status((self.functions.bitnet_cuda_dequantize)(
            format.raw(),
            &raw,
            packed,
            packed_len,
            scales,
            scales_len,
            output,
            n,
            stream,
        ))
    }
}

/// A reentrant lock over the process-wide target of one [`Library`]: one
/// thread at a time holds it, with any number of guards.
#[derive(Default)]
struct TargetLock {
    state: Mutex<TargetState>,
    /// Notified when the owning thread's last guard is dropped.
    released: Condvar,
}

#[derive(Default)]
struct TargetState {
    /// The thread whose guards are alive; `None` when there are none.
    owner: Option<ThreadId>,
    /// The live guards (id, target), oldest first; the last one is in force.
    live: Vec<(u64, CpuTarget)>,
    next_id: u64,
}

impl TargetLock {
    fn state(&self) -> MutexGuard<'_, TargetState> {
        // Held only for bookkeeping that cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process-wide CPU target of a [`Library`], set by
/// [`Library::override_cpu_target`]; dropping it restores the previous one.
/// It stays on the thread that made it (not `Send`).
#[must_use = "the target is restored when the guard is dropped"]
pub struct CpuTargetGuard<'a> {
    library: &'a Library,
    id: u64,
    target: CpuTarget,
    /// Not `Send` or `Sync`: the lock belongs to this thread.
    _same_thread: PhantomData<*const ()>,
}

impl CpuTargetGuard<'_> {
    /// The target this guard set.
    pub fn target(&self) -> CpuTarget {
        self.target
    }
}

impl Drop for CpuTargetGuard<'_> {
    fn drop(&mut self) {
        let lock = &self.library.target_lock;
        let mut state = lock.state();
        if let Some(position) = state.live.iter().position(|&(id, _)| id == self.id) {
            state.live.remove(position);
        }
        let in_force = state.live.last().map_or(CpuTarget::AUTO, |&(_, target)| target);
        // Restoring a target that was accepted before cannot fail.
        let restored = self.library.set_process_target(in_force);
        debug_assert!(restored.is_ok(), "{restored:?}");
        if state.live.is_empty() {
            state.owner = None;
            drop(state);
            lock.released.notify_all();
        }
    }
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(name)
        .map_err(|_| Error::new(sys::BITNET_E_INVALID_ARGUMENT, format!("name {name:?} contains a NUL byte")))
}

/// The repository README's Rust example (extracted by build.rs), run as a
/// doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/readme_rust_example.md"))]
struct ReadmeRustExample;
