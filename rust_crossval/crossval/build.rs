//! The crossval binary, tests and benchmark find the library that
//! bitnet-quant-sys linked through an rpath.
fn main() {
    let libdir = std::env::var("DEP_BITNET_QUANT_LIBDIR").unwrap_or_default();
    if !libdir.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
    }
    println!("cargo:rustc-env=BITNET_QUANT_LIBDIR={libdir}");
}
