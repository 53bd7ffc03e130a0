//! The BitNet-rs golden vectors of `ffi_tests/golden`: a safetensors reader,
//! `index.tsv`, and which family each file holds.
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bitnet_quant::Format;

/// `ffi_tests/golden` of the repository this crate lives in.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ffi_tests/golden")
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
}

/// A safetensors file held in memory.
pub struct SafeTensors {
    bytes: Vec<u8>,
    data_start: usize,
    /// name -> (dtype, shape, byte range in the data section)
    tensors: BTreeMap<String, (String, Vec<usize>, std::ops::Range<usize>)>,
}

/// One tensor's dtype, shape and little-endian bytes.
pub struct TensorView<'a> {
    pub dtype: &'a str,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

impl TensorView<'_> {
    pub fn f32s(&self) -> Vec<f32> {
        assert_eq!(self.dtype, "F32", "tensor is {}", self.dtype);
        self.bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    pub fn i8s(&self) -> Vec<i8> {
        assert_eq!(self.dtype, "I8", "tensor is {}", self.dtype);
        self.bytes.iter().map(|&b| b as i8).collect()
    }

    pub fn u8s(&self) -> Vec<u8> {
        assert_eq!(self.dtype, "U8", "tensor is {}", self.dtype);
        self.bytes.to_vec()
    }

    pub fn i32s(&self) -> Vec<i32> {
        assert_eq!(self.dtype, "I32", "tensor is {}", self.dtype);
        self.bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

impl SafeTensors {
    /// Layout: u64 LE header length, a JSON header, then the data section.
    pub fn open(path: &Path) -> io::Result<SafeTensors> {
        let bytes = fs::read(path)?;
        let header_len = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
            .ok_or_else(|| invalid(path, "shorter than 8 bytes"))?;
        let data_start = header_len
            .checked_add(8)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| invalid(path, "header length past the end"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..data_start]).map_err(|e| invalid(path, e))?;
        let data_len = bytes.len() - data_start;
        let mut tensors = BTreeMap::new();
        for (name, info) in header.into_iter().filter(|(name, _)| name != "__metadata__") {
            let field = |key: &str| info.get(key).ok_or_else(|| invalid(path, format!("{name}: no {key}")));
            let numbers = |key: &str| -> io::Result<Vec<usize>> {
                field(key)?
                    .as_array()
                    .and_then(|a| a.iter().map(|v| v.as_u64().map(|v| v as usize)).collect())
                    .ok_or_else(|| invalid(path, format!("{name}: bad {key}")))
            };
            let dtype = field("dtype")?.as_str().ok_or_else(|| invalid(path, "bad dtype"))?.to_string();
            let shape = numbers("shape")?;
            let offsets = numbers("data_offsets")?;
            if offsets.len() != 2 || offsets[0] > offsets[1] || offsets[1] > data_len {
                return Err(invalid(path, format!("{name}: bad data_offsets")));
            }
            tensors.insert(name, (dtype, shape, offsets[0]..offsets[1]));
        }
        Ok(SafeTensors { bytes, data_start, tensors })
    }

    /// The case names of a file whose tensors are `<case>/<field>`: every
    /// case with an `input`.
    pub fn cases(&self) -> Vec<&str> {
        self.tensors.keys().filter_map(|name| name.strip_suffix("/input")).collect()
    }

    /// Every tensor name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<TensorView<'_>> {
        self.tensors.get(name).map(|(dtype, shape, range)| TensorView {
            dtype,
            shape,
            bytes: &self.bytes[self.data_start + range.start..self.data_start + range.end],
        })
    }
}

/// What a golden file holds, read from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `quantizer_<fmt>_scalar_bs<B>`: family A (bitnet_quantize/dequantize).
    Quantizer { format: Format, block: usize },
    /// `kernel_<fmt>_fallback`: family B (bitnet_cpp_quantize).
    Kernel { format: Format },
    /// `matmul_i2s`: bitnet_cpp_matmul_i2s.
    MatmulI2s,
}

/// "i2s", "tl1", "tl2" as the file names spell them.
fn parse_format(name: &str) -> Option<Format> {
    Format::ALL.into_iter().find(|f| f.name().replace('_', "").eq_ignore_ascii_case(name))
}

impl Family {
    pub fn from_file_name(file: &str) -> Option<Family> {
        let stem = file.strip_suffix(".safetensors")?;
        if stem == "matmul_i2s" {
            return Some(Family::MatmulI2s);
        }
        let parts: Vec<&str> = stem.split('_').collect();
        match parts.as_slice() {
            ["quantizer", format, "scalar", block] => Some(Family::Quantizer {
                format: parse_format(format)?,
                block: block.strip_prefix("bs")?.parse().ok()?,
            }),
            ["kernel", format, "fallback"] => Some(Family::Kernel { format: parse_format(format)? }),
            _ => None,
        }
    }

    /// The format, or None for the matmul.
    pub fn format(self) -> Option<Format> {
        match self {
            Family::Quantizer { format, .. } | Family::Kernel { format } => Some(format),
            Family::MatmulI2s => None,
        }
    }

    pub fn block(self) -> Option<usize> {
        match self {
            Family::Quantizer { block, .. } => Some(block),
            Family::Kernel { format } => Some(format.default_block_size()),
            Family::MatmulI2s => None,
        }
    }
}

/// One row of index.tsv.
#[derive(Clone, Debug)]
pub struct Case {
    pub file: String,
    pub family: Family,
    pub name: String,
    /// BitNet-rs's error for this case, if it failed.
    pub error: Option<String>,
}

/// All golden files of a directory, loaded.
pub struct GoldenSet {
    pub inputs: SafeTensors,
    pub files: BTreeMap<String, SafeTensors>,
    pub cases: Vec<Case>,
}

impl GoldenSet {
    pub fn open(dir: &Path) -> io::Result<GoldenSet> {
        let index_path = dir.join("index.tsv");
        let index = fs::read_to_string(&index_path)?;
        let mut files = BTreeMap::new();
        let mut cases = Vec::new();
        for line in index.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            let [file, name, error] = fields[..] else {
                return Err(invalid(&index_path, format!("bad line {line:?}")));
            };
            let family = Family::from_file_name(file)
                .ok_or_else(|| invalid(&index_path, format!("unknown golden file {file}")))?;
            if !files.contains_key(file) {
                files.insert(file.to_string(), SafeTensors::open(&dir.join(file))?);
            }
            cases.push(Case {
                file: file.to_string(),
                family,
                name: name.to_string(),
                error: (error != "-").then(|| error.to_string()),
            });
        }
        Ok(GoldenSet { inputs: SafeTensors::open(&dir.join("inputs.safetensors"))?, files, cases })
    }

    /// `<case>/<field>` of the case's golden file.
    pub fn field(&self, case: &Case, field: &str) -> Option<TensorView<'_>> {
        self.files[&case.file].get(&format!("{}/{field}", case.name))
    }

    pub fn input(&self, case: &Case) -> Option<Vec<f32>> {
        self.inputs.get(&case.name).map(|t| t.f32s())
    }
}
