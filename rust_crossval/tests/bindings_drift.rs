//! The hand-written bindings in src/sys.rs against include/bitnet_quant.h:
//! every function (names, parameter names and types, return types), every
//! numeric constant (values as the C compiler evaluates them), and the
//! layout and initialiser of `bitnet_quant_options`. Any drift fails here.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bitnet_quant::sys;

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
        name if name.starts_with("bitnet_") => name.to_string(),
        other => panic!("no Rust mapping for C type {other:?}"),
    };
    match pointers {
        0 => base,
        1 => format!("*{} {base}", if is_const { "const" } else { "mut" }),
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
            let params = s.params.iter().map(|(n, t)| (n.to_string(), normalise(t))).collect();
            (s.name.to_string(), Declaration { params, ret })
        })
        .collect();
    let header_names: BTreeSet<_> = header.keys().collect();
    let bound_names: BTreeSet<_> = bound.keys().collect();
    assert_eq!(header_names, bound_names, "functions of the header vs. src/sys.rs");
    for (name, decl) in &header {
        assert_eq!(bound[name], *decl, "signature of {name}");
    }
}

/// `BITNET_*` names with numeric values: enum members and object-like macros.
fn header_constants(text: &str) -> BTreeSet<String> {
    // Not numbers: the export macro, the include guard, an initialiser (its
    // values are checked through the options layout test) and a string.
    const NOT_NUMERIC: [&str; 4] =
        ["BITNET_API", "BITNET_QUANT_H", "BITNET_QUANT_OPTIONS_INIT", "BITNET_QUANT_VERSION_STRING"];
    let code = strip_comments(text);
    let mut names = BTreeSet::new();
    for line in code.lines().map(str::trim) {
        if let Some(define) = line.strip_prefix("#define ") {
            let name: String = define.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let function_like = define[name.len()..].starts_with('(');
            if name.starts_with("BITNET_") && !function_like && !NOT_NUMERIC.contains(&name.as_str()) {
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
        "constants of the header vs. src/sys.rs"
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

#[test]
fn structs_have_the_c_layout_and_initialiser() {
    use std::mem::{align_of, offset_of, size_of};
    let program = r#"#define BITNET_QUANT_EXPERIMENTAL
#include <stddef.h>
#include <stdio.h>
#include "bitnet_quant.h"
#define LAYOUT(T) printf(#T ".size %zu\n" #T ".align %zu\n", sizeof(T), _Alignof(T))
#define FIELD(T, f) printf(#T "." #f " %zu\n", offsetof(T, f))
int main(void) {
  bitnet_quant_options init = BITNET_QUANT_OPTIONS_INIT;
  LAYOUT(bitnet_quant_options);
  FIELD(bitnet_quant_options, struct_size); FIELD(bitnet_quant_options, block_size);
  FIELD(bitnet_quant_options, cpu_target); FIELD(bitnet_quant_options, device);
  FIELD(bitnet_quant_options, device_index); FIELD(bitnet_quant_options, flags);
  LAYOUT(bitnet_cuda_device_info);
  FIELD(bitnet_cuda_device_info, struct_size); FIELD(bitnet_cuda_device_info, name);
  FIELD(bitnet_cuda_device_info, compute_major); FIELD(bitnet_cuda_device_info, compute_minor);
  FIELD(bitnet_cuda_device_info, multiprocessor_count); FIELD(bitnet_cuda_device_info, usable);
  FIELD(bitnet_cuda_device_info, total_memory); FIELD(bitnet_cuda_device_info, free_memory);
  FIELD(bitnet_cuda_device_info, supports_fp16); FIELD(bitnet_cuda_device_info, supports_bf16);
  printf("init %u %u %u %d %d %u\n", init.struct_size, init.block_size, init.cpu_target,
         (int)init.device, (int)init.device_index, init.flags);
  return 0;
}
"#;
    let c = c_values(&run_c("struct_layout", program));
    type O = sys::bitnet_quant_options;
    type D = sys::bitnet_cuda_device_info;
    let rust = [
        ("bitnet_quant_options.size", size_of::<O>()),
        ("bitnet_quant_options.align", align_of::<O>()),
        ("bitnet_quant_options.struct_size", offset_of!(O, struct_size)),
        ("bitnet_quant_options.block_size", offset_of!(O, block_size)),
        ("bitnet_quant_options.cpu_target", offset_of!(O, cpu_target)),
        ("bitnet_quant_options.device", offset_of!(O, device)),
        ("bitnet_quant_options.device_index", offset_of!(O, device_index)),
        ("bitnet_quant_options.flags", offset_of!(O, flags)),
        ("bitnet_cuda_device_info.size", size_of::<D>()),
        ("bitnet_cuda_device_info.align", align_of::<D>()),
        ("bitnet_cuda_device_info.struct_size", offset_of!(D, struct_size)),
        ("bitnet_cuda_device_info.name", offset_of!(D, name)),
        ("bitnet_cuda_device_info.compute_major", offset_of!(D, compute_major)),
        ("bitnet_cuda_device_info.compute_minor", offset_of!(D, compute_minor)),
        ("bitnet_cuda_device_info.multiprocessor_count", offset_of!(D, multiprocessor_count)),
        ("bitnet_cuda_device_info.usable", offset_of!(D, usable)),
        ("bitnet_cuda_device_info.total_memory", offset_of!(D, total_memory)),
        ("bitnet_cuda_device_info.free_memory", offset_of!(D, free_memory)),
        ("bitnet_cuda_device_info.supports_fp16", offset_of!(D, supports_fp16)),
        ("bitnet_cuda_device_info.supports_bf16", offset_of!(D, supports_bf16)),
    ];
    for (name, value) in rust {
        assert_eq!(c[name], value.to_string(), "{name}");
    }
    // Every struct of the header is covered above.
    let structs: BTreeSet<String> = strip_comments(&header_text())
        .split("typedef struct ")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect();
    let covered: BTreeSet<String> = rust.iter().map(|(n, _)| n.split('.').next().unwrap().to_string()).collect();
    assert_eq!(structs, covered, "structs of the header vs. this test");
    let d = O::default();
    let init =
        format!("{} {} {} {} {} {}", d.struct_size, d.block_size, d.cpu_target, d.device, d.device_index, d.flags);
    assert_eq!(c["init"], init, "BITNET_QUANT_OPTIONS_INIT");
}

#[test]
fn both_backends_report_the_header_version() {
    for (backend, lib) in common::backends() {
        assert_eq!(lib.version_number(), sys::BITNET_QUANT_VERSION_NUMBER, "{backend}");
        assert_eq!(lib.version_string(), sys::BITNET_QUANT_VERSION_STRING, "{backend}");
    }
}
