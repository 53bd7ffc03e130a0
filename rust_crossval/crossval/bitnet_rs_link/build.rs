//! BitNet-rs's library discovery (crates/bitnet-kernels/build.rs): the root
//! is $BITNET_CPP_DIR, else $BITNET_CPP_PATH, else ~/.cache/bitnet_cpp. The
//! bridge is enabled (cfg have_cpp) only when <root>/include/ggml-bitnet.h
//! exists and <root>/build/lib holds a bitnet or ggml library; then it links
//! static bitnet or bitnet_static, else dylib bitnet, plus static ggml and
//! llama where those archives exist. No rpath and no C++ runtime are added.
use std::env;
use std::path::PathBuf;

fn main() {
    for var in ["BITNET_CPP_DIR", "BITNET_CPP_PATH", "HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(have_cpp)");
    let root = env::var_os("BITNET_CPP_DIR")
        .or_else(|| env::var_os("BITNET_CPP_PATH"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cache/bitnet_cpp"));
    let lib = root.join("build/lib");
    let has = |file: &str| lib.join(file).exists();
    let static_bitnet = ["libbitnet.a", "libbitnet_static.a"].into_iter().find(|f| has(f));
    let shared_bitnet = has("libbitnet.so") || has("libbitnet.dylib");
    let components = has("libggml.a") || has("libggml.so");
    if !root.join("include/ggml-bitnet.h").exists() || !(static_bitnet.is_some() || shared_bitnet || components) {
        println!("cargo:warning=no C++ library at {}: FFI stubs", root.display());
        return;
    }
    println!("cargo:rustc-cfg=have_cpp");
    println!("cargo:rustc-link-search=native={}", lib.display());
    match static_bitnet {
        Some(archive) => println!("cargo:rustc-link-lib=static={}", &archive[3..archive.len() - 2]),
        None if shared_bitnet => println!("cargo:rustc-link-lib=dylib=bitnet"),
        None => {}
    }
    for component in ["ggml", "llama"] {
        if has(&format!("lib{component}.a")) {
            println!("cargo:rustc-link-lib=static={component}");
        }
    }
}
