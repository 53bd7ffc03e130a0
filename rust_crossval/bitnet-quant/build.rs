//! This package's own tests and examples find the library that
//! bitnet-quant-sys linked through an rpath; crates that depend on this one
//! are left to choose theirs. Also extracts the repository README's Rust
//! example, which the crate runs as a doctest.
use std::path::PathBuf;

fn main() {
    let libdir = std::env::var("DEP_BITNET_QUANT_LIBDIR").unwrap_or_default();
    if !libdir.is_empty() {
        for kind in ["tests", "examples"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-rpath,{libdir}");
        }
    }
    println!("cargo:rustc-env=BITNET_QUANT_LIBDIR={libdir}");
    // tests/linkage.rs checks that the code runs from the file chosen.
    let linking = match std::env::var("DEP_BITNET_QUANT_STATIC").as_deref() {
        Ok("true") => "static",
        _ => "shared",
    };
    println!("cargo:rustc-env=BITNET_QUANT_LINKING={linking}");

    let readme = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../README.md");
    println!("cargo:rerun-if-changed={}", readme.display());
    // Outside the repository (a packaged crate) there is no README to test.
    let example = match std::fs::read_to_string(&readme) {
        Ok(text) => {
            let example = text.split("### Rust\n").nth(1).and_then(|section| {
                let start = section.find("```rust\n")? + "```rust\n".len();
                let len = section[start..].find("```")?;
                Some(format!("```rust\n{}```\n", &section[start..start + len]))
            });
            example.unwrap_or_else(|| panic!("{}: no ```rust block under ### Rust", readme.display()))
        }
        Err(_) => String::new(),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("readme_rust_example.md");
    std::fs::write(out, example).unwrap();
}
