//! Ternary matrix products: y[batch × rows] = x[batch × cols] · Wᵀ for a
//! weight [`Tensor`] in I2_S, TQ1_0, TQ2_0 or Q2_0, bit for bit what the
//! layout's reference engine (bitnet.cpp, ggml) computes.
use std::ops::Range;
use std::os::raw::c_void;

use crate::tensor::dim;
use crate::{sys, CpuTarget, Element, Error, I8Activations, Library, Result, Tensor, TensorType};

/// `bitnet_gemm_options` without `struct_size` and the element type, which
/// the binding fills in. Build it with `..GemmOptions::default()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GemmOptions {
    pub cpu_target: CpuTarget,
    /// Threads splitting the output rows; 0 or 1: the caller's only.
    pub threads: u32,
    /// Compute only these output rows (of W); the rest of `y` is left as it
    /// was. Any split gives the same bits.
    pub rows: Option<Range<usize>>,
}

impl GemmOptions {
    fn raw(&self, x_type: TensorType) -> Result<sys::bitnet_gemm_options> {
        let mut raw = sys::bitnet_gemm_options {
            cpu_target: self.cpu_target.0,
            n_threads: i32::try_from(self.threads)
                .map_err(|_| Error::new(sys::BITNET_E_INVALID_OPTIONS, format!("{} threads", self.threads)))?,
            x_type: x_type.raw(),
            ..sys::bitnet_gemm_options::default()
        };
        if let Some(rows) = &self.rows {
            raw.flags |= sys::BITNET_GEMM_ROW_RANGE;
            raw.row_begin = dim("row_begin", rows.start)?;
            raw.row_end = dim("row_end", rows.end)?;
        }
        Ok(raw)
    }
}

fn output_len(w: &Tensor, batch: usize, y: &[f32]) -> Result<()> {
    match batch.checked_mul(w.rows()) {
        Some(len) if len == y.len() => Ok(()),
        _ => Err(Error::new(
            sys::BITNET_E_SIZE_MISMATCH,
            format!("y has {} elements; batch {batch} x rows {} expected", y.len(), w.rows()),
        )),
    }
}

impl Library {
    /// The activation type `w_type`'s product quantizes x to: I8_S for
    /// I2_S, Q8_K for TQ1_0 and TQ2_0, Q8_0 for Q2_0.
    pub fn gemm_act_type(&self, w_type: TensorType) -> Result<TensorType> {
        let mut raw = 0;
        // SAFETY: `raw` is writable.
        self.check_status(unsafe { (self.functions.bitnet_gemm_act_type)(w_type.raw(), &mut raw) })?;
        TensorType::from_raw(raw)
            .ok_or_else(|| Error::new(sys::BITNET_E_INVALID_TYPE, format!("type {raw} is unknown to this binding")))
    }

    /// y = x · Wᵀ: `x` holds `x.len() / w.cols()` tokens of `w.cols()`
    /// elements (f32, f16 or bf16); the result holds tokens × `w.rows()`.
    pub fn gemm<E: Element>(&self, w: &Tensor, x: &[E], options: &GemmOptions) -> Result<Vec<f32>> {
        let batch = if w.cols() == 0 { 0 } else { x.len() / w.cols() };
        let mut y = vec![0.0; batch * w.rows()];
        self.gemm_into(w, x, &mut y, options)?;
        Ok(y)
    }

    /// As [`Library::gemm`], into `y` (tokens × `w.rows()` floats).
    pub fn gemm_into<E: Element>(&self, w: &Tensor, x: &[E], y: &mut [f32], options: &GemmOptions) -> Result<()> {
        if w.cols() == 0 || x.len() % w.cols() != 0 {
            return Err(Error::new(
                sys::BITNET_E_SIZE_MISMATCH,
                format!("x has {} elements, not a whole number of rows of {}", x.len(), w.cols()),
            ));
        }
        let batch = x.len() / w.cols();
        output_len(w, batch, y)?;
        let raw = options.raw(E::TYPE)?;
        let w = w.raw_source()?;
        let (x, batch) = (x.as_ptr().cast::<f32>(), dim("batch", batch)?);
        // SAFETY: the tensor's bytes are exactly its size; x holds batch
        // rows of cols elements of E::TYPE (named in the options), y batch
        // rows of `rows` floats; the slices cannot overlap.
        let status = unsafe {
            (self.functions.bitnet_gemm)(w.ty, w.data, w.len, w.rows, w.cols, x, batch, y.as_mut_ptr(), &raw)
        };
        self.check_status(status)
    }

    /// An I2_S product with activations quantized once
    /// ([`Library::quantize_i8s`]), for several weights sharing one input.
    pub fn gemm_i8s(&self, w: &Tensor, x: &I8Activations, options: &GemmOptions) -> Result<Vec<f32>> {
        if x.cols != w.cols() || x.q.len() != x.rows * x.cols || x.scales.len() != x.rows || x.sums.len() != x.rows {
            return Err(Error::new(
                sys::BITNET_E_SIZE_MISMATCH,
                format!(
                    "activations of {} x {} ({} codes, {} scales, {} sums) against a weight of {} columns",
                    x.rows,
                    x.cols,
                    x.q.len(),
                    x.scales.len(),
                    x.sums.len(),
                    w.cols()
                ),
            ));
        }
        let mut y = vec![0.0; x.rows * w.rows()];
        let raw = options.raw(TensorType::F32)?;
        let w = w.raw_source()?;
        let (q, scales, sums, batch) = (x.q.as_ptr(), x.scales.as_ptr(), x.sums.as_ptr(), dim("batch", x.rows)?);
        let gemm_i8s = self.functions.bitnet_gemm_i8s;
        // SAFETY: lengths checked above; the tensor's bytes are its size.
        let status = unsafe { gemm_i8s(w.data, w.len, w.rows, w.cols, q, scales, sums, batch, y.as_mut_ptr(), &raw) };
        self.check_status(status).map(|()| y)
    }

    /// A TQ1_0/TQ2_0 (Q8_K activations) or Q2_0 (Q8_0) product with
    /// activations quantized once: `xq` is a Q8_K or Q8_0 tensor of tokens ×
    /// `w.cols()` ([`Library::quantize_tensor`]).
    pub fn gemm_blocks(&self, w: &Tensor, xq: &Tensor, options: &GemmOptions) -> Result<Vec<f32>> {
        if xq.cols() != w.cols() {
            return Err(Error::new(
                sys::BITNET_E_SIZE_MISMATCH,
                format!("activations have {} columns, the weight {}", xq.cols(), w.cols()),
            ));
        }
        let mut y = vec![0.0; xq.rows() * w.rows()];
        let raw = options.raw(TensorType::F32)?;
        let expected = self.gemm_act_type(w.tensor_type())?;
        if xq.tensor_type() != expected {
            return Err(Error::new(
                sys::BITNET_E_INVALID_TYPE,
                format!("{:?} takes {expected:?} activations, not {:?}", w.tensor_type(), xq.tensor_type()),
            ));
        }
        let w = w.raw_source()?;
        let (x, x_len, batch) = (xq.bytes().as_ptr().cast::<c_void>(), xq.bytes().len(), dim("batch", xq.rows())?);
        let gemm_blocks = self.functions.bitnet_gemm_blocks;
        // SAFETY: both tensors' bytes are their exact sizes; y holds tokens
        // × rows floats.
        let status = unsafe { gemm_blocks(w.ty, w.data, w.len, w.rows, w.cols, x, x_len, batch, y.as_mut_ptr(), &raw) };
        self.check_status(status).map(|()| y)
    }
}
