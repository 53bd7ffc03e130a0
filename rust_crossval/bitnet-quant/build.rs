//! This package's own tests, examples and doctests find the library that
//! bitnet-quant-sys linked through an rpath; crates that depend on this one
//! are left to choose theirs.
fn main() {
    let libdir = std::env::var("DEP_BITNET_QUANT_LIBDIR").unwrap_or_default();
    if !libdir.is_empty() {
        for kind in ["tests", "examples"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-rpath,{libdir}");
        }
    }
    println!("cargo:rustc-env=BITNET_QUANT_LIBDIR={libdir}");
}
