//! Finds libbitnet_quant and links it.
//!
//! Search order:
//! 1. `BITNET_QUANT_DIR`: an install prefix (with `lib*/pkgconfig/bitnet_quant.pc`)
//!    or a CMake build directory (with `libbitnet_quant.so` at its top).
//! 2. pkg-config on its usual search path (`PKG_CONFIG_PATH` included).
//! 3. The repository's own build directory, `../build` (what tools/test.sh builds).
//!
//! The library directory is written into the binaries' rpath, so tests and the
//! crossval binary run without `LD_LIBRARY_PATH`. Dependent crates get it as
//! `DEP_BITNET_QUANT_LIBDIR` and need their own rpath or `LD_LIBRARY_PATH`.
use std::env;
use std::path::{Path, PathBuf};

const DIR_VAR: &str = "BITNET_QUANT_DIR";
const PKG_NAME: &str = "bitnet_quant";
const SHARED_LIB: &str = "libbitnet_quant.so";

struct Found {
    /// Empty when pkg-config reports a system directory (no -L needed).
    libdir: PathBuf,
    header: PathBuf,
}

fn main() {
    println!("cargo:rerun-if-env-changed={DIR_VAR}");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let repo_header = manifest.join("../include/bitnet_quant.h");

    let found = match env::var_os(DIR_VAR) {
        Some(dir) => from_dir(Path::new(&dir), &repo_header)
            .unwrap_or_else(|e| panic!("{DIR_VAR}={}: {e}", Path::new(&dir).display())),
        None => probe_pkg_config()
            .or_else(|pkg_err| {
                from_build_dir(&manifest.join("../build"), &repo_header)
                    .map_err(|e| format!("pkg-config: {pkg_err}; ../build: {e}"))
            })
            .unwrap_or_else(|e| {
                panic!(
                    "libbitnet_quant not found ({e}). Set {DIR_VAR} to its install prefix or \
                 build directory, or add its lib/pkgconfig to PKG_CONFIG_PATH."
                )
            }),
    };

    if !found.libdir.as_os_str().is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", found.libdir.display());
    }
    println!("cargo:rerun-if-changed={}", found.header.display());
    println!("cargo:rustc-env=BITNET_QUANT_LIBDIR={}", found.libdir.display());
    println!("cargo:rustc-env=BITNET_QUANT_HEADER={}", found.header.display());
    println!("cargo:libdir={}", found.libdir.display());
}

/// A build directory has the library at its top; otherwise `dir` is a prefix.
fn from_dir(dir: &Path, repo_header: &Path) -> Result<Found, String> {
    if dir.join(SHARED_LIB).exists() {
        return from_build_dir(dir, repo_header);
    }
    let pc_dir = ["lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"]
        .iter()
        .map(|libdir| dir.join(libdir).join("pkgconfig"))
        .find(|pc| pc.join(format!("{PKG_NAME}.pc")).exists())
        .ok_or_else(|| format!("neither {SHARED_LIB} nor lib*/pkgconfig/{PKG_NAME}.pc there"))?;
    let mut path = env::split_paths(&env::var_os("PKG_CONFIG_PATH").unwrap_or_default()).collect::<Vec<_>>();
    path.insert(0, pc_dir);
    env::set_var("PKG_CONFIG_PATH", env::join_paths(path).unwrap());
    probe_pkg_config()
}

fn from_build_dir(dir: &Path, repo_header: &Path) -> Result<Found, String> {
    if !dir.join(SHARED_LIB).exists() {
        return Err(format!("no {SHARED_LIB} in {}", dir.display()));
    }
    let libdir = dir.canonicalize().map_err(|e| e.to_string())?;
    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!("cargo:rustc-link-lib=dylib={PKG_NAME}");
    Ok(Found { libdir, header: repo_header.to_path_buf() })
}

fn probe_pkg_config() -> Result<Found, String> {
    let lib = pkg_config::Config::new().atleast_version("0.1").probe(PKG_NAME).map_err(|e| e.to_string())?;
    let libdir = lib.link_paths.first().cloned().unwrap_or_default();
    let header = lib
        .include_paths
        .iter()
        .map(|dir| dir.join("bitnet_quant.h"))
        .find(|h| h.exists())
        .unwrap_or_else(|| PathBuf::from("/usr/include/bitnet_quant.h"));
    Ok(Found { libdir, header })
}
