//! The tensor layouts of model files: a [`Tensor`] keeps its bytes together
//! with its [`TensorType`] and shape, so decoding, transcoding and
//! inspecting cannot be handed the wrong ones.
use std::marker::PhantomData;
use std::os::raw::c_void;

use crate::{c_name, c_string, sys, CBuffer, CpuTarget, Error, Library, Result};

/// A `bitnet_type`: element types (F32, F16, BF16) and the layouts of ggml,
/// bitnet.cpp, transformers and BitNet-rs. Numbered as GGUF numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(non_camel_case_types)]
pub enum TensorType {
    F32,
    F16,
    BF16,
    /// ggml: 32-blocks, f16 d + 32 int8.
    Q8_0,
    /// ggml: 256-blocks, f32 d + 256 int8 + 16 int16 sums.
    Q8_K,
    /// ggml: 256-blocks of 82 bytes; decode only.
    IQ2_S,
    /// ggml: 256-blocks, base-3 codes then f16 d.
    TQ1_0,
    /// ggml: 256-blocks, 2-bit codes then f16 d.
    TQ2_0,
    /// bitnet.cpp: 2-bit codes in 128-blocks, then the tensor's f32 scale.
    I2_S,
    /// bitnet.cpp's activation type (see [`Library::quantize_i8s`]).
    I8_S,
    /// ggml: 64-blocks, f16 d then 2-bit codes.
    Q2_0,
    /// transformers' offline BitNet layout: u8 `[rows/4][cols]`, then the f32 weight_scale.
    HfBitnet,
    /// BitNet-rs family A I2_S: code bytes, then one f32 scale per block.
    BitnetRsI2S,
}

impl TensorType {
    pub const ALL: [TensorType; 13] = [
        TensorType::F32,
        TensorType::F16,
        TensorType::BF16,
        TensorType::Q8_0,
        TensorType::Q8_K,
        TensorType::IQ2_S,
        TensorType::TQ1_0,
        TensorType::TQ2_0,
        TensorType::I2_S,
        TensorType::I8_S,
        TensorType::Q2_0,
        TensorType::HfBitnet,
        TensorType::BitnetRsI2S,
    ];

    pub fn raw(self) -> sys::bitnet_type {
        match self {
            TensorType::F32 => sys::BITNET_TYPE_F32,
            TensorType::F16 => sys::BITNET_TYPE_F16,
            TensorType::BF16 => sys::BITNET_TYPE_BF16,
            TensorType::Q8_0 => sys::BITNET_TYPE_Q8_0,
            TensorType::Q8_K => sys::BITNET_TYPE_Q8_K,
            TensorType::IQ2_S => sys::BITNET_TYPE_IQ2_S,
            TensorType::TQ1_0 => sys::BITNET_TYPE_TQ1_0,
            TensorType::TQ2_0 => sys::BITNET_TYPE_TQ2_0,
            TensorType::I2_S => sys::BITNET_TYPE_I2_S,
            TensorType::I8_S => sys::BITNET_TYPE_I8_S,
            TensorType::Q2_0 => sys::BITNET_TYPE_Q2_0,
            TensorType::HfBitnet => sys::BITNET_TYPE_HF_BITNET,
            TensorType::BitnetRsI2S => sys::BITNET_TYPE_BITNET_RS_I2S,
        }
    }

    /// `None` for a value this binding does not know.
    pub fn from_raw(raw: sys::bitnet_type) -> Option<TensorType> {
        TensorType::ALL.into_iter().find(|t| t.raw() == raw)
    }
}

/// An element type that tensors are quantized from and decoded to.
pub trait Element: Copy + Default + sealed::Sealed {
    const TYPE: TensorType;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

impl Element for f32 {
    const TYPE: TensorType = TensorType::F32;
}
impl Element for half::f16 {
    const TYPE: TensorType = TensorType::F16;
}
impl Element for half::bf16 {
    const TYPE: TensorType = TensorType::BF16;
}

/// How absmean ternarization groups a tensor (`group_size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grouping {
    /// One scale for the whole tensor (BitNet b1.58).
    #[default]
    Tensor,
    /// One scale per row.
    Row,
    /// One scale per this many columns of a row.
    Columns(u32),
}

/// `bitnet_tensor_options` without `struct_size`, which the binding fills in.
/// Build it with `..TensorOptions::default()`: fields may be added.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TensorOptions {
    pub cpu_target: CpuTarget,
    /// Threads to split the work over; 0 or 1: the caller's only.
    pub threads: u32,
    /// Quantize: BitNet b1.58's absmean ternarization first (else the
    /// destination layout's own rule).
    pub absmean: bool,
    pub grouping: Grouping,
    /// absmean: |x * s| > threshold is ±1; 0 = 0.5 (the paper).
    pub threshold: f32,
    /// `BitnetRsI2S` block size; 0 = 32.
    pub block_size: u32,
    /// Transcode may round a scale the target cannot hold exactly.
    pub allow_scale_rounding: bool,
    /// Transcode to per-block scales writes d = 1: the caller keeps the scale.
    pub unit_scale: bool,
}

impl TensorOptions {
    /// Absmean ternarization (BitNet b1.58) before the layout's rule.
    pub fn absmean() -> TensorOptions {
        TensorOptions { absmean: true, ..TensorOptions::default() }
    }

    pub fn on(self, cpu_target: CpuTarget) -> TensorOptions {
        TensorOptions { cpu_target, ..self }
    }

    pub fn grouped(self, grouping: Grouping) -> TensorOptions {
        TensorOptions { grouping, ..self }
    }

    fn raw(&self) -> Result<sys::bitnet_tensor_options> {
        let flags = if self.allow_scale_rounding { sys::BITNET_TENSOR_ALLOW_SCALE_ROUNDING } else { 0 }
            | if self.unit_scale { sys::BITNET_TENSOR_UNIT_SCALE } else { 0 };
        let threads = i32::try_from(self.threads)
            .map_err(|_| Error::new(sys::BITNET_E_INVALID_OPTIONS, format!("{} threads", self.threads)))?;
        Ok(sys::bitnet_tensor_options {
            flags,
            cpu_target: self.cpu_target.0,
            n_threads: threads,
            ternarize: if self.absmean { sys::BITNET_TERNARIZE_ABSMEAN } else { sys::BITNET_TERNARIZE_NONE },
            block_size: self.block_size,
            group_size: match self.grouping {
                Grouping::Tensor => 0,
                Grouping::Row => -1,
                Grouping::Columns(g) => i64::from(g),
            },
            threshold: self.threshold,
            ..sys::bitnet_tensor_options::default()
        })
    }
}

/// A rows × cols tensor in one layout: its bytes exactly as a model file
/// stores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    ty: TensorType,
    rows: usize,
    cols: usize,
    /// `BitnetRsI2S` block size (0 = 32), part of that layout.
    block_size: u32,
    bytes: Vec<u8>,
}

impl Tensor {
    /// Takes bytes read from a file; checks that they are exactly the size
    /// of that type and shape. `BitnetRsI2S` uses block size 32 here; see
    /// [`Tensor::with_block_size`].
    pub fn from_bytes(lib: &Library, ty: TensorType, rows: usize, cols: usize, bytes: Vec<u8>) -> Result<Tensor> {
        Tensor::with_block_size(lib, ty, rows, cols, 0, bytes)
    }

    /// As [`Tensor::from_bytes`], with the block size of a `BitnetRsI2S` tensor.
    pub fn with_block_size(
        lib: &Library,
        ty: TensorType,
        rows: usize,
        cols: usize,
        block_size: u32,
        bytes: Vec<u8>,
    ) -> Result<Tensor> {
        let size = lib.tensor_size_with_block(ty, rows, cols, block_size)?;
        if size != bytes.len() {
            return Err(Error::new(
                sys::BITNET_E_SIZE_MISMATCH,
                format!("{ty:?} {rows}x{cols} is {size} bytes, not {}", bytes.len()),
            ));
        }
        Ok(Tensor { ty, rows, cols, block_size, bytes })
    }

    pub fn tensor_type(&self) -> TensorType {
        self.ty
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn options(&self, options: &TensorOptions) -> Result<sys::bitnet_tensor_options> {
        let mut raw = options.raw()?;
        if self.ty == TensorType::BitnetRsI2S {
            raw.block_size = self.block_size;
        }
        Ok(raw)
    }

    /// The tensor as the C functions take a source.
    pub(crate) fn raw_source(&self) -> Result<RawTensor<'_>> {
        Ok(RawTensor {
            ty: self.ty.raw(),
            data: self.bytes.as_ptr().cast::<c_void>(),
            len: self.bytes.len(),
            rows: dim("rows", self.rows)?,
            cols: dim("cols", self.cols)?,
            _bytes: PhantomData,
        })
    }
}

/// A tensor's layout, bytes (pointer and length) and shape, as the C
/// functions take them; it borrows the tensor, so the pointer stays valid.
pub(crate) struct RawTensor<'a> {
    pub ty: sys::bitnet_type,
    pub data: *const c_void,
    pub len: usize,
    pub rows: i64,
    pub cols: i64,
    _bytes: PhantomData<&'a [u8]>,
}

/// A row-major rows × cols input of an [`Element`] type, as the C functions
/// take it; it borrows the input, so the pointer stays valid.
struct RawInput<'a> {
    ty: sys::bitnet_type,
    data: *const c_void,
    rows: i64,
    cols: i64,
    _input: PhantomData<&'a [u8]>,
}

/// `input` as rows × cols elements, which [`elements`] has checked.
fn raw_input<E: Element>(input: &[E], rows: usize, cols: usize) -> Result<RawInput<'_>> {
    Ok(RawInput {
        ty: E::TYPE.raw(),
        data: input.as_ptr().cast::<c_void>(),
        rows: dim("rows", rows)?,
        cols: dim("cols", cols)?,
        _input: PhantomData,
    })
}

/// What a type is (`bitnet_type_info`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TypeInfo {
    pub name: String,
    /// "ggml", "bitnet.cpp", "transformers", "BitNet-rs", "IEEE".
    pub defined_by: String,
    pub block_elements: u64,
    pub block_bytes: u64,
    pub tail_bytes: u64,
    pub cols_multiple: u64,
    pub rows_multiple: u64,
    pub elements_multiple: u64,
    pub ternary: bool,
    pub can_quantize: bool,
    pub bits_per_weight: f64,
}

/// What a ternary tensor holds (`bitnet_tensor_stats`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct TensorStats {
    /// Elements of value -2, -1, 0, +1, +2.
    pub values: [u64; 5],
    pub scales: u64,
    pub nonfinite_scales: u64,
    /// Range of the finite scales; 0 when there is none.
    pub scale_min: f32,
    pub scale_max: f32,
}

/// Absmean ternarization: one code per element, one alpha per unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Ternarized {
    pub rows: usize,
    pub cols: usize,
    /// -1, 0 or +1 per element, row-major.
    pub codes: Vec<i8>,
    /// One per unit (the tensor, a row, or a group): the value of code +1.
    pub alphas: Vec<f32>,
}

/// bitnet.cpp's per-row int8 activations.
#[derive(Clone, Debug, PartialEq)]
pub struct I8Activations {
    pub rows: usize,
    pub cols: usize,
    pub q: Vec<i8>,
    pub scales: Vec<f32>,
    pub sums: Vec<i32>,
}

pub(crate) fn dim(name: &str, value: usize) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::new(sys::BITNET_E_SIZE_OVERFLOW, format!("{name} = {value}")))
}

fn elements(input_len: usize, rows: usize, cols: usize) -> Result<()> {
    if rows.checked_mul(cols) != Some(input_len) {
        return Err(Error::new(
            sys::BITNET_E_SIZE_MISMATCH,
            format!("input has {input_len} elements; {rows} x {cols} expected"),
        ));
    }
    Ok(())
}

impl Library {
    pub fn type_info(&self, ty: TensorType) -> Result<TypeInfo> {
        // SAFETY: all-zero is a valid value of this plain C struct.
        let mut info: sys::bitnet_type_info = unsafe { std::mem::zeroed() };
        info.struct_size = std::mem::size_of::<sys::bitnet_type_info>() as u32;
        // SAFETY: `info` is writable and of the header's layout.
        self.check_status(unsafe { (self.functions.bitnet_type_get_info)(ty.raw(), &mut info) })?;
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(TypeInfo {
            name: c_string(info.name).unwrap_or_default(),
            defined_by: c_string(info.defined_by).unwrap_or_default(),
            block_elements: count(info.block_elements),
            block_bytes: info.block_bytes,
            tail_bytes: info.tail_bytes,
            cols_multiple: count(info.cols_multiple),
            rows_multiple: count(info.rows_multiple),
            elements_multiple: count(info.elements_multiple),
            ternary: info.ternary != 0,
            can_quantize: info.can_quantize != 0,
            bits_per_weight: info.bits_per_weight,
        })
    }

    /// Parses a type name ("tq2_0", case-insensitive).
    pub fn type_from_name(&self, name: &str) -> Result<TensorType> {
        let name = c_name(name)?;
        let mut raw = 0;
        // SAFETY: both pointers are valid for the call.
        self.check_status(unsafe { (self.functions.bitnet_type_from_name)(name.as_ptr(), &mut raw) })?;
        TensorType::from_raw(raw)
            .ok_or_else(|| Error::new(sys::BITNET_E_INVALID_TYPE, format!("type {raw} is unknown to this binding")))
    }

    /// Bytes of a rows × cols tensor of `ty`; [`crate::ErrorKind::InvalidShape`]
    /// names the constraint a shape breaks.
    pub fn tensor_size(&self, ty: TensorType, rows: usize, cols: usize) -> Result<usize> {
        self.tensor_size_with_block(ty, rows, cols, 0)
    }

    fn tensor_size_with_block(&self, ty: TensorType, rows: usize, cols: usize, block_size: u32) -> Result<usize> {
        if ty == TensorType::BitnetRsI2S && block_size != 0 {
            // Its size depends on the block: codes then one scale per block.
            let n = rows.checked_mul(cols).ok_or_else(|| Error::new(sys::BITNET_E_SIZE_OVERFLOW, "rows * cols"))?;
            let (packed, scales) = self.buffer_sizes(crate::Format::I2S, &crate::Options::block(block_size), n)?;
            return Ok(packed + 4 * scales);
        }
        let mut bytes = 0;
        // SAFETY: `bytes` is writable.
        let status = unsafe {
            (self.functions.bitnet_tensor_size)(ty.raw(), dim("rows", rows)?, dim("cols", cols)?, &mut bytes)
        };
        self.check_status(status).map(|()| bytes)
    }

    /// A zero-filled tensor of `ty` and this shape, the size the library
    /// writes; the block size is the options' for `BitnetRsI2S`, else 0.
    fn output_tensor(&self, ty: TensorType, rows: usize, cols: usize, options: &TensorOptions) -> Result<Tensor> {
        let block_size = if ty == TensorType::BitnetRsI2S { options.block_size } else { 0 };
        let bytes = vec![0u8; self.tensor_size_with_block(ty, rows, cols, block_size)?];
        Ok(Tensor { ty, rows, cols, block_size, bytes })
    }

    /// Encodes a row-major rows × cols tensor of f32, f16 or bf16 into `ty`,
    /// bit-exact with the code that defines the layout (ggml's
    /// `quantize_row_*_ref`, bitnet.cpp, transformers, BitNet-rs).
    pub fn quantize_tensor<E: Element>(
        &self,
        ty: TensorType,
        input: &[E],
        rows: usize,
        cols: usize,
        options: &TensorOptions,
    ) -> Result<Tensor> {
        elements(input.len(), rows, cols)?;
        let mut out = self.output_tensor(ty, rows, cols, options)?;
        let raw = options.raw()?;
        let x = raw_input(input, rows, cols)?;
        let (dst, dst_len) = (out.bytes.as_mut_ptr().cast::<c_void>(), out.bytes.len());
        // SAFETY: `input` holds rows*cols elements of E::TYPE, `dst` is
        // writable for its length, which the library checks.
        let status = unsafe {
            (self.functions.bitnet_tensor_quantize)(ty.raw(), &raw, x.ty, x.data, x.rows, x.cols, dst, dst_len)
        };
        self.check_status(status).map(|()| out)
    }

    /// Decodes a tensor to f32, f16 or bf16 (row-major), bit-exact with
    /// ggml's `dequantize_row_*`.
    pub fn dequantize_tensor<E: Element>(&self, tensor: &Tensor) -> Result<Vec<E>> {
        let mut output = vec![E::default(); tensor.rows * tensor.cols];
        self.dequantize_tensor_into(tensor, &mut output)?;
        Ok(output)
    }

    /// Decodes a tensor into the first rows*cols elements of `output`
    /// ([`crate::ErrorKind::BufferTooSmall`] if it has fewer). An output of
    /// 8 MiB or more is written past the caches, fastest when `output`
    /// starts on a 64-byte boundary (a large `Vec` does not).
    pub fn dequantize_tensor_into<E: Element>(&self, tensor: &Tensor, output: &mut [E]) -> Result<()> {
        let raw = tensor.options(&TensorOptions::default())?;
        let w = tensor.raw_source()?;
        let (dst, dst_len) = (output.as_mut_ptr().cast::<c_void>(), std::mem::size_of_val(output));
        let dequantize = self.functions.bitnet_tensor_dequantize;
        // SAFETY: the tensor's bytes are exactly its size; `output` is
        // writable for dst_len bytes, which the library checks against
        // rows*cols elements of E::TYPE.
        let status = unsafe { dequantize(w.ty, &raw, w.data, w.len, w.rows, w.cols, E::TYPE.raw(), dst, dst_len) };
        self.check_status(status)
    }

    /// Re-packs a ternary tensor's codes into another ternary layout, with
    /// no float round trip; [`crate::ErrorKind::InvalidData`] for a code the
    /// target cannot hold, [`crate::ErrorKind::InexactScale`] for a scale it
    /// cannot hold exactly (unless `allow_scale_rounding`).
    pub fn transcode(&self, tensor: &Tensor, ty: TensorType, options: &TensorOptions) -> Result<Tensor> {
        let mut out = self.output_tensor(ty, tensor.rows, tensor.cols, options)?;
        // The source's block size when it has one, else the destination's.
        let mut raw = tensor.options(options)?;
        if tensor.ty != TensorType::BitnetRsI2S {
            raw.block_size = out.block_size;
        } else if ty == TensorType::BitnetRsI2S && out.block_size != tensor.block_size {
            return Err(Error::new(
                sys::BITNET_E_INVALID_OPTIONS,
                "BitnetRsI2S to BitnetRsI2S with another block size: dequantize and quantize instead",
            ));
        }
        let w = tensor.raw_source()?;
        let (dst, dst_len) = (out.bytes.as_mut_ptr().cast::<c_void>(), out.bytes.len());
        // SAFETY: source bytes are exactly its size; `dst` is writable for
        // its length.
        let status = unsafe {
            (self.functions.bitnet_tensor_transcode)(ty.raw(), &raw, w.ty, w.data, w.len, w.rows, w.cols, dst, dst_len)
        };
        self.check_status(status).map(|()| out)
    }

    /// Value counts and scale range of a ternary tensor.
    pub fn tensor_stats(&self, tensor: &Tensor) -> Result<TensorStats> {
        // SAFETY: all-zero is a valid value of this plain C struct.
        let mut stats: sys::bitnet_tensor_stats = unsafe { std::mem::zeroed() };
        stats.struct_size = std::mem::size_of::<sys::bitnet_tensor_stats>() as u32;
        let raw = tensor.options(&TensorOptions::default())?;
        let w = tensor.raw_source()?;
        // SAFETY: source bytes are exactly its size; `stats` is writable.
        let status =
            unsafe { (self.functions.bitnet_tensor_stats_get)(w.ty, &raw, w.data, w.len, w.rows, w.cols, &mut stats) };
        self.check_status(status)?;
        Ok(TensorStats {
            values: stats.values,
            scales: stats.scales,
            nonfinite_scales: stats.nonfinite_scales,
            scale_min: stats.scale_min,
            scale_max: stats.scale_max,
        })
    }

    /// BitNet b1.58's absmean ternarization, as the reference converters
    /// compute it: per unit m = mean|x|, s = 1/max(m, 1e-5), q = round(x*s)
    /// clamped to ±1, alpha = 1/s; the same on every CPU target.
    pub fn ternarize<E: Element>(
        &self,
        input: &[E],
        rows: usize,
        cols: usize,
        options: &TensorOptions,
    ) -> Result<Ternarized> {
        elements(input.len(), rows, cols)?;
        let units = match options.grouping {
            Grouping::Tensor => 1,
            Grouping::Row => rows,
            Grouping::Columns(g) if g > 0 => rows * cols.div_ceil(g as usize),
            Grouping::Columns(_) => 0, // the library names the bad group size
        };
        let mut out = Ternarized { rows, cols, codes: vec![0; input.len()], alphas: vec![0.0; units] };
        let raw = options.raw()?;
        let x = raw_input(input, rows, cols)?;
        let ((codes, codes_len), (alphas, alphas_len)) =
            (out.codes.as_mut_slice().ptr_len(), out.alphas.as_mut_slice().ptr_len());
        // SAFETY: `input` holds rows*cols elements; outputs are writable for
        // their lengths, which the library checks.
        let status = unsafe {
            (self.functions.bitnet_ternarize)(&raw, x.ty, x.data, x.rows, x.cols, codes, codes_len, alphas, alphas_len)
        };
        self.check_status(status).map(|()| out)
    }

    /// bitnet.cpp's activation quantizer (`quantize_row_i8_s`), per row.
    pub fn quantize_i8s<E: Element>(
        &self,
        input: &[E],
        rows: usize,
        cols: usize,
        options: &TensorOptions,
    ) -> Result<I8Activations> {
        elements(input.len(), rows, cols)?;
        let mut out =
            I8Activations { rows, cols, q: vec![0; input.len()], scales: vec![0.0; rows], sums: vec![0; rows] };
        let raw = options.raw()?;
        let x = raw_input(input, rows, cols)?;
        let ((q, q_len), (scales, scales_len)) = (out.q.as_mut_slice().ptr_len(), out.scales.as_mut_slice().ptr_len());
        let (sums, sums_len) = out.sums.as_mut_slice().ptr_len();
        let quantize_i8s = self.functions.bitnet_quantize_i8s;
        // SAFETY: as in ternarize.
        let status =
            unsafe { quantize_i8s(&raw, x.ty, x.data, x.rows, x.cols, q, q_len, scales, scales_len, sums, sums_len) };
        self.check_status(status).map(|()| out)
    }
}
