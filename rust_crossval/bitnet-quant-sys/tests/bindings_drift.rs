//! The hand-written bindings in bitnet-quant-sys/src/lib.rs against include/bitnet_quant.h:
//! every function (names, parameter names and types, return types), every
//! numeric constant (values as the C compiler evaluates them), and the
//! layout and initialiser of `bitnet_quant_options`. Any drift fails here.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bitnet_quant_sys as sys;

fn header_path() -> PathBuf {
    PathBuf::from(env!("BITNET_QUANT_HEADER"))
}

fn header_text() -> String {
    let path = header_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Removes comments and joins `\`-continued lines.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = &rest[start + rest[start..].find("*/").expect("unterminated comment") + 2..];
    }
    out.push_str(rest);
    out.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n").replace("\\\n", " ")
}

/// A C type as this crate spells it in Rust.
fn rust_type(c_type: &str) -> String {
    let spaced = c_type.replace('*', " * ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let pointers = tokens.iter().filter(|t| **t == "*").count();
    let is_const = tokens.first() == Some(&"const");
    let base: Vec<&str> = tokens.iter().copied().filter(|t| *t != "*" && *t != "const").collect();
    let base = match base.join(" ").as_str() {
        "float" => "f32".to_string(),
        "size_t" => "usize".to_string(),
        "int" => "c_int".to_string(),
        "unsigned" | "unsigned int" => "c_uint".to_string(),
        "char" => "c_char".to_string(),
        "uint8_t" => "u8".to_string(),
        "int8_t" => "i8".to_string(),
        "uint32_t" => "u32".to_string(),
        "int32_t" => "i32".to_string(),
        "void" if pointers > 0 => "c_void".to_string(),
        "void" => "()".to_string(),
        "uint64_t" => "u64".to_string(),
        "int64_t" => "i64".to_string(),
        name if name.starts_with("bitnet_") => name.to_string(),
        other => panic!("no Rust mapping for C type {other:?}"),
    };
    match pointers {
        0 => base,
        1 => format!("*{} {base}", if is_const { "const" } else { "mut" }),
        // An out-parameter for a handle (`T**`): both levels mutable.
        2 if !is_const => format!("*mut *mut {base}"),
        _ => panic!("unexpected pointer depth in {c_type:?}"),
    }
}

/// Splits "const float* input" into ("input", "const float*").
fn split_declarator(decl: &str) -> (String, String) {
    let decl = decl.trim();
    let name_start = decl.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    (decl[name_start..].to_string(), decl[..name_start].trim().to_string())
}

#[derive(Debug, PartialEq)]
struct Declaration {
    params: Vec<(String, String)>,
    ret: String,
}

/// Every `BITNET_API` function of the header, with Rust-spelled types.
fn header_functions(text: &str) -> BTreeMap<String, Declaration> {
    let code: String =
        strip_comments(text).lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join(" ");
    code.split(';')
        .filter_map(|stmt| stmt.split_once("BITNET_API").map(|(_, decl)| decl.trim().to_string()))
        .map(|decl| {
            let (head, params) = decl.split_once('(').expect("a function declaration");
            let params = params.trim_end().strip_suffix(')').expect("closing parenthesis");
            let (name, ret) = split_declarator(head);
            let params = match params.trim() {
                "void" | "" => Vec::new(),
                list => list
                    .split(',')
                    .map(|p| {
                        let (pname, ptype) = split_declarator(p);
                        (pname, rust_type(&ptype))
                    })
                    .collect(),
            };
            (name, Declaration { params, ret: rust_type(&ret) })
        })
        .collect()
}

fn normalise(rust: &str) -> String {
    rust.split_whitespace().collect::<Vec<_>>().join(" ").replace("* ", "*")
}

#[test]
fn every_header_function_is_bound_with_the_same_signature() {
    let header = header_functions(&header_text());
    assert!(header.len() >= 27, "parsed only {} functions from the header", header.len());
    let bound: BTreeMap<String, Declaration> = sys::SIGNATURES
        .iter()
        .map(|s| {
            let ret = if s.ret.is_empty() { "()".to_string() } else { normalise(s.ret) };
            // A C parameter named like a Rust keyword (`type`) is a raw identifier.
            let params = s.params.iter().map(|(n, t)| (n.trim_start_matches("r#").to_string(), normalise(t))).collect();
            (s.name.to_string(), Declaration { params, ret })
        })
        .collect();
    let header_names: BTreeSet<_> = header.keys().collect();
    let bound_names: BTreeSet<_> = bound.keys().collect();
    assert_eq!(header_names, bound_names, "functions of the header vs. bitnet-quant-sys/src/lib.rs");
    for (name, decl) in &header {
        assert_eq!(bound[name], *decl, "signature of {name}");
    }
}

/// `BITNET_*` names with numeric values: enum members and object-like macros.
fn header_constants(text: &str) -> BTreeSet<String> {
    // Not numbers: the export macro, the include guard and a string; and
    // the `*_INIT` initialisers, whose values the layout test checks.
    const NOT_NUMERIC: [&str; 3] = ["BITNET_API", "BITNET_QUANT_H", "BITNET_QUANT_VERSION_STRING"];
    let code = strip_comments(text);
    let mut names = BTreeSet::new();
    for line in code.lines().map(str::trim) {
        if let Some(define) = line.strip_prefix("#define ") {
            let name: String = define.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let function_like = define[name.len()..].starts_with('(');
            let numeric = !function_like && !name.ends_with("_INIT") && !NOT_NUMERIC.contains(&name.as_str());
            if name.starts_with("BITNET_") && numeric {
                names.insert(name);
            }
        }
    }
    let mut rest = code.as_str();
    while let Some(start) = rest.find("enum") {
        let body_start = start + rest[start..].find('{').unwrap() + 1;
        let body_end = body_start + rest[body_start..].find('}').unwrap();
        for member in rest[body_start..body_end].split(',') {
            let name = member.split('=').next().unwrap().trim();
            if !name.is_empty() {
                names.insert(name.to_string());
            }
        }
        rest = &rest[body_end..];
    }
    names
}

/// Compiles and runs a C program that includes the header; returns stdout.
fn run_c(name: &str, source: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drift");
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join(format!("{name}.c")), dir.join(name));
    std::fs::write(&src, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let include = header_path().parent().map(Path::to_path_buf).unwrap();
    let status = Command::new(&cc)
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(status.success(), "{cc} failed on {}", src.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn c_values(output: &str) -> BTreeMap<String, String> {
    output.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn every_header_constant_has_the_same_value() {
    let names = header_constants(&header_text());
    assert!(names.len() >= 40, "parsed only {} constants", names.len());
    let bound: BTreeMap<String, i64> = sys::CONSTANTS.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>(),
        bound.keys().collect::<BTreeSet<_>>(),
        "constants of the header vs. bitnet-quant-sys/src/lib.rs"
    );
    let mut program = String::from(
        "#define BITNET_QUANT_EXPERIMENTAL\n#include <stdio.h>\n#include \"bitnet_quant.h\"\nint main(void) {\n",
    );
    for name in &names {
        program += &format!("  printf(\"%s %lld\\n\", \"{name}\", (long long)({name}));\n");
    }
    program += "  printf(\"BITNET_QUANT_VERSION_STRING %s\\n\", BITNET_QUANT_VERSION_STRING);\n  return 0;\n}\n";
    let values = c_values(&run_c("constants", &program));
    for name in &names {
        assert_eq!(values[name], bound[name].to_string(), "value of {name}");
    }
    assert_eq!(values["BITNET_QUANT_VERSION_STRING"], sys::BITNET_QUANT_VERSION_STRING);
}

/// Size, alignment and field offsets of each listed struct of `sys`.
macro_rules! layouts {
    ($($name:ident { $($field:ident),* $(,)? })*) => {
        vec![$((
            stringify!($name),
            std::mem::size_of::<sys::$name>(),
            std::mem::align_of::<sys::$name>(),
            vec![$((stringify!($field), std::mem::offset_of!(sys::$name, $field))),*],
        )),*]
    };
}

#[test]
fn structs_have_the_c_layout_and_initialisers() {
    let rust = layouts! {
        bitnet_quant_options { struct_size, block_size, cpu_target, device, device_index, flags }
        bitnet_type_info {
            struct_size, name, defined_by, block_elements, block_bytes, tail_bytes, cols_multiple,
            rows_multiple, elements_multiple, ternary, can_quantize, bits_per_weight
        }
        bitnet_tensor_options {
            struct_size, flags, cpu_target, n_threads, ternarize, block_size, group_size, threshold, reserved
        }
        bitnet_tensor_stats { struct_size, reserved, values, scales, nonfinite_scales, scale_min, scale_max }
        bitnet_gemm_options { struct_size, flags, cpu_target, n_threads, x_type, reserved, row_begin, row_end }
        bitnet_cuda_gemm_job { weights, d_x, d_y }
        bitnet_cuda_device_info {
            struct_size, name, compute_major, compute_minor, multiprocessor_count, usable, total_memory,
            free_memory, supports_fp16, supports_bf16
        }
    };
    let mut program = String::from(
        "#define BITNET_QUANT_EXPERIMENTAL\n#include <stddef.h>\n#include <stdio.h>\n#include \"bitnet_quant.h\"\n\
         int main(void) {\n  bitnet_quant_options q = BITNET_QUANT_OPTIONS_INIT;\n\
         bitnet_tensor_options t = BITNET_TENSOR_OPTIONS_INIT;\n\
         bitnet_gemm_options g = BITNET_GEMM_OPTIONS_INIT;\n",
    );
    for (name, _, _, fields) in &rust {
        program += &format!("  printf(\"{name}.size %zu\\n{name}.align %zu\\n\", sizeof({name}), _Alignof({name}));\n");
        for (field, _) in fields {
            program += &format!("  printf(\"{name}.{field} %zu\\n\", offsetof({name}, {field}));\n");
        }
    }
    program += "  printf(\"quant_init %u %u %u %d %d %u\\n\", q.struct_size, q.block_size, q.cpu_target,\n\
                (int)q.device, (int)q.device_index, q.flags);\n\
                printf(\"tensor_init %u %u %u %d %d %u %lld %g %u\\n\", t.struct_size, t.flags, t.cpu_target,\n\
                (int)t.n_threads, (int)t.ternarize, t.block_size, (long long)t.group_size, (double)t.threshold,\n\
                t.reserved);\n\
                printf(\"gemm_init %u %u %u %d %d %d %lld %lld\\n\", g.struct_size, g.flags, g.cpu_target,\n\
                (int)g.n_threads, (int)g.x_type, (int)g.reserved, (long long)g.row_begin, (long long)g.row_end);\n\
                return 0;\n}\n";
    let c = c_values(&run_c("struct_layout", &program));
    for (name, size, align, fields) in &rust {
        assert_eq!(c[&format!("{name}.size")], size.to_string(), "sizeof({name})");
        assert_eq!(c[&format!("{name}.align")], align.to_string(), "_Alignof({name})");
        for (field, offset) in fields {
            assert_eq!(c[&format!("{name}.{field}")], offset.to_string(), "offsetof({name}, {field})");
        }
    }
    // Every struct of the header with a body (not the opaque handles) is
    // covered above, with every field.
    let structs: BTreeSet<String> = strip_comments(&header_text())
        .split("typedef struct ")
        .skip(1)
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap();
            (words.next() == Some("{")).then(|| name.to_string())
        })
        .collect();
    let covered: BTreeSet<String> = rust.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(structs, covered, "structs of the header vs. this test");
    for name in &structs {
        let body = strip_comments(&header_text());
        let body = body.split(&format!("typedef struct {name} {{")).nth(1).unwrap().split('}').next().unwrap();
        let c_fields = body.split(';').filter(|f| !f.trim().is_empty()).count();
        let listed = rust.iter().find(|(n, ..)| n == name).unwrap().3.len();
        assert_eq!(c_fields, listed, "fields of {name}");
    }
    let q = sys::bitnet_quant_options::default();
    let quant_init =
        format!("{} {} {} {} {} {}", q.struct_size, q.block_size, q.cpu_target, q.device, q.device_index, q.flags);
    assert_eq!(c["quant_init"], quant_init, "BITNET_QUANT_OPTIONS_INIT");
    let t = sys::bitnet_tensor_options::default();
    let tensor_init = format!(
        "{} {} {} {} {} {} {} {} {}",
        t.struct_size,
        t.flags,
        t.cpu_target,
        t.n_threads,
        t.ternarize,
        t.block_size,
        t.group_size,
        t.threshold,
        t.reserved
    );
    assert_eq!(c["tensor_init"], tensor_init, "BITNET_TENSOR_OPTIONS_INIT");
    let g = sys::bitnet_gemm_options::default();
    let gemm_init = format!(
        "{} {} {} {} {} {} {} {}",
        g.struct_size, g.flags, g.cpu_target, g.n_threads, g.x_type, g.reserved, g.row_begin, g.row_end
    );
    assert_eq!(c["gemm_init"], gemm_init, "BITNET_GEMM_OPTIONS_INIT");
}

#[test]
fn the_crate_version_names_the_header_version() {
    // `<crate version>+bitnet-quant.<C library version>`, as zstd-sys does.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        version.split_once('+').map(|(_, c)| c),
        Some(&*format!("bitnet-quant.{}", sys::BITNET_QUANT_VERSION_STRING))
    );
}

#[test]
fn the_linked_library_reports_the_header_version() {
    // SAFETY: no arguments; returns a number and a static string.
    let (number, string) = unsafe { (sys::bitnet_version_number(), sys::bitnet_version_string()) };
    assert_eq!(number, sys::BITNET_QUANT_VERSION_NUMBER);
    // SAFETY: a NUL-terminated static string.
    let string = unsafe { std::ffi::CStr::from_ptr(string) }.to_str().unwrap();
    assert_eq!(string, sys::BITNET_QUANT_VERSION_STRING);
}
