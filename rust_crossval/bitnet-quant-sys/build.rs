//! Finds libbitnet_quant and links it, in the manner of zstd-sys / libz-sys.
//!
//! Search order:
//! 1. `BITNET_QUANT_LIB_DIR`: the directory that holds `libbitnet_quant.so`
//!    (headers from `BITNET_QUANT_INCLUDE_DIR`, else `../include` of it).
//! 2. `BITNET_QUANT_DIR`: an install prefix (with `lib*/pkgconfig/bitnet_quant.pc`)
//!    or a CMake build directory (with `libbitnet_quant.so` at its top).
//! 3. pkg-config on its usual search path (`PKG_CONFIG_PATH` included).
//! 4. With the `bundled` feature: the library built from this repository
//!    with CMake into `OUT_DIR`.
//!
//! With the `static` feature, or `BITNET_QUANT_STATIC=1` (`0` links the
//! shared library whatever the features say), every route links
//! `libbitnet_quant.a` (CMake's `BITNET_BUILD_STATIC`) and then the
//! libraries it needs, from its `bitnet_quant.pc`: `Libs.private` of the
//! build directory's file, or `pkg-config --static` for an installed one.
//!
//! When none of them gives a library the script warns and links nothing, so
//! `cargo check` and `cargo doc` still work; linking a binary then fails.
//! Dependent build scripts get `DEP_BITNET_QUANT_ROOT`, `_INCLUDE` (the
//! directory of `bitnet_quant.h`), `_LIBDIR` (empty for a system directory)
//! and `_STATIC` (`true` when libbitnet_quant.a was linked).
//! Only this package's own tests get an rpath; other crates choose their own.
use std::env;
use std::path::{Path, PathBuf};

const PKG_NAME: &str = "bitnet_quant";
const SHARED_LIB: &str = "libbitnet_quant.so";
const STATIC_LIB: &str = "libbitnet_quant.a";
const HEADER: &str = "bitnet_quant.h";

struct Found {
    /// Prefix or build directory.
    root: PathBuf,
    /// Empty when pkg-config reports a system directory (no -L needed).
    libdir: PathBuf,
    include: PathBuf,
    /// What libbitnet_quant.a needs after it (`-l` names and `-L`
    /// directories); empty for the shared library.
    private_libs: Vec<String>,
    private_dirs: Vec<PathBuf>,
}

/// Shared or static linking, and the file that each needs.
#[derive(Clone, Copy, PartialEq)]
enum Linking {
    Shared,
    Static,
}

impl Linking {
    fn from_env() -> Linking {
        match env::var("BITNET_QUANT_STATIC").as_deref() {
            Ok("1") => Linking::Static,
            Ok("0") => Linking::Shared,
            Ok(other) => panic!("BITNET_QUANT_STATIC={other:?}: expected 1 (static) or 0 (shared)"),
            Err(_) if env::var_os("CARGO_FEATURE_STATIC").is_some() => Linking::Static,
            Err(_) => Linking::Shared,
        }
    }

    fn file(self) -> &'static str {
        match self {
            Linking::Shared => SHARED_LIB,
            Linking::Static => STATIC_LIB,
        }
    }
}

fn main() {
    for var in [
        "BITNET_QUANT_LIB_DIR",
        "BITNET_QUANT_INCLUDE_DIR",
        "BITNET_QUANT_DIR",
        "BITNET_QUANT_STATIC",
        "PKG_CONFIG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    // The repository this crate lives in (its header is the ABI these
    // declarations follow).
    let repo = manifest.join("../..");

    let linking = Linking::from_env();
    match find(&repo, linking) {
        Ok(found) => {
            let header = found.include.join(HEADER);
            println!("cargo:rerun-if-changed={}", header.display());
            if !found.libdir.as_os_str().is_empty() {
                println!("cargo:rustc-link-search=native={}", found.libdir.display());
                // This package's tests run without LD_LIBRARY_PATH.
                println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{}", found.libdir.display());
            }
            match linking {
                Linking::Shared => println!("cargo:rustc-link-lib=dylib={PKG_NAME}"),
                Linking::Static => {
                    println!("cargo:rustc-link-lib=static={PKG_NAME}");
                    for dir in &found.private_dirs {
                        println!("cargo:rustc-link-search=native={}", dir.display());
                    }
                    for lib in &found.private_libs {
                        println!("cargo:rustc-link-lib={lib}");
                    }
                }
            }
            println!("cargo:rustc-env=BITNET_QUANT_HEADER={}", header.display());
            println!("cargo:root={}", found.root.display());
            println!("cargo:static={}", linking == Linking::Static);
            println!("cargo:include={}", found.include.display());
            println!("cargo:libdir={}", found.libdir.display());
        }
        Err(why) => {
            println!(
                "cargo:warning=libbitnet_quant not found ({why}); nothing is linked. Set \
                 BITNET_QUANT_DIR to its install prefix or build directory, add its \
                 lib/pkgconfig to PKG_CONFIG_PATH, or enable the `bundled` feature."
            );
            println!("cargo:rustc-env=BITNET_QUANT_HEADER={}", repo.join("include").join(HEADER).display());
            println!("cargo:libdir=");
        }
    }
}

fn find(repo: &Path, linking: Linking) -> Result<Found, String> {
    if let Some(dir) = env::var_os("BITNET_QUANT_LIB_DIR") {
        let libdir = PathBuf::from(dir);
        return from_lib_dir(&libdir, linking).map_err(|e| format!("BITNET_QUANT_LIB_DIR={}: {e}", libdir.display()));
    }
    if let Some(dir) = env::var_os("BITNET_QUANT_DIR") {
        let dir = PathBuf::from(dir);
        return from_dir(&dir, repo, linking).map_err(|e| format!("BITNET_QUANT_DIR={}: {e}", dir.display()));
    }
    let pkg_err = match probe_pkg_config(linking) {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    bundled(repo, linking).map_err(|e| format!("pkg-config: {pkg_err}; {e}"))
}

#[cfg(feature = "bundled")]
fn bundled(repo: &Path, linking: Linking) -> Result<Found, String> {
    if !repo.join("CMakeLists.txt").exists() {
        return Err(format!("bundled: no CMakeLists.txt in {}", repo.display()));
    }
    for dir in ["src", "include", "cmake", "CMakeLists.txt"] {
        println!("cargo:rerun-if-changed={}", repo.join(dir).display());
    }
    // Only the library: no tests, benchmarks, tools or CUDA backend.
    let root = cmake::Config::new(repo)
        .define("BITNET_BUILD_TESTS", "OFF")
        .define("BITNET_BUILD_BENCH", "OFF")
        .define("BITNET_BUILD_TOOLS", "OFF")
        .define("BITNET_BUILD_CLI", "OFF")
        .define("BITNET_WITH_CUDA", "OFF")
        .define("BITNET_BUILD_STATIC", if linking == Linking::Static { "ON" } else { "OFF" })
        .define("CMAKE_INSTALL_LIBDIR", "lib")
        .profile("Release")
        .build();
    match linking {
        Linking::Shared => Ok(Found {
            libdir: root.join("lib"),
            include: root.join("include"),
            root,
            private_libs: Vec::new(),
            private_dirs: Vec::new(),
        }),
        // The installed bitnet_quant.pc, through `pkg-config --static`.
        Linking::Static => from_dir(&root, repo, linking),
    }
}

#[cfg(not(feature = "bundled"))]
fn bundled(_repo: &Path, _linking: Linking) -> Result<Found, String> {
    Err("the `bundled` feature is off".to_string())
}

fn from_lib_dir(libdir: &Path, linking: Linking) -> Result<Found, String> {
    if !libdir.join(linking.file()).exists() {
        return Err(format!("no {} there", linking.file()));
    }
    let libdir = libdir.canonicalize().map_err(|e| e.to_string())?;
    let root = libdir.parent().map(Path::to_path_buf).unwrap_or_else(|| libdir.clone());
    let include = match env::var_os("BITNET_QUANT_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("include"),
    };
    if !include.join(HEADER).exists() {
        return Err(format!("no {HEADER} in {}; set BITNET_QUANT_INCLUDE_DIR", include.display()));
    }
    // An installed library has its .pc in pkgconfig/, a build directory at its top.
    let pc = [libdir.join("pkgconfig"), libdir.clone()].into_iter().map(|dir| dir.join(format!("{PKG_NAME}.pc")));
    let (private_libs, private_dirs) = private_libs(linking, pc)?;
    Ok(Found { root, libdir, include, private_libs, private_dirs })
}

/// A build directory has the library at its top (and the header in the
/// source tree it was configured from); otherwise `dir` is a prefix.
fn from_dir(dir: &Path, repo: &Path, linking: Linking) -> Result<Found, String> {
    if dir.join(linking.file()).exists() {
        let root = dir.canonicalize().map_err(|e| e.to_string())?;
        let include = build_dir_source(&root).unwrap_or_else(|| repo.to_path_buf()).join("include");
        let (private_libs, private_dirs) = private_libs(linking, [root.join(format!("{PKG_NAME}.pc"))])?;
        return Ok(Found { libdir: root.clone(), root, include, private_libs, private_dirs });
    }
    let pc_dir = ["lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"]
        .iter()
        .map(|libdir| dir.join(libdir).join("pkgconfig"))
        .find(|pc| pc.join(format!("{PKG_NAME}.pc")).exists())
        .ok_or_else(|| format!("neither {} nor lib*/pkgconfig/{PKG_NAME}.pc there", linking.file()))?;
    let mut path = env::split_paths(&env::var_os("PKG_CONFIG_PATH").unwrap_or_default()).collect::<Vec<_>>();
    path.insert(0, pc_dir);
    env::set_var("PKG_CONFIG_PATH", env::join_paths(path).unwrap());
    probe_pkg_config(linking).map(|found| Found { root: dir.to_path_buf(), ..found })
}

/// For static linking, the `Libs.private` of the first of `pc_files` that
/// exists (CMake writes it with plain `-L` and `-l` flags).
fn private_libs(
    linking: Linking,
    pc_files: impl IntoIterator<Item = PathBuf>,
) -> Result<(Vec<String>, Vec<PathBuf>), String> {
    if linking == Linking::Shared {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut tried = Vec::new();
    for pc in pc_files {
        let Ok(text) = std::fs::read_to_string(&pc) else {
            tried.push(pc.display().to_string());
            continue;
        };
        println!("cargo:rerun-if-changed={}", pc.display());
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix("Libs.private:"))
            .ok_or_else(|| format!("{} has no Libs.private; build with BITNET_BUILD_STATIC=ON", pc.display()))?;
        let (mut libs, mut dirs) = (Vec::new(), Vec::new());
        for flag in line.split_whitespace() {
            if let Some(lib) = flag.strip_prefix("-l") {
                libs.push(lib.to_string());
            } else if let Some(dir) = flag.strip_prefix("-L") {
                dirs.push(PathBuf::from(dir));
            } else {
                return Err(format!("{}: Libs.private flag {flag:?} is neither -l nor -L", pc.display()));
            }
        }
        return Ok((libs, dirs));
    }
    Err(format!("static linking needs {PKG_NAME}.pc (its Libs.private); none of {}", tried.join(", ")))
}

/// The source directory a CMake build directory was configured from.
fn build_dir_source(build: &Path) -> Option<PathBuf> {
    let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).ok()?;
    let line = cache.lines().find(|l| l.starts_with("CMAKE_HOME_DIRECTORY:"))?;
    Some(PathBuf::from(line.split_once('=')?.1))
}

fn probe_pkg_config(linking: Linking) -> Result<Found, String> {
    // Link lines are printed by this script itself, once, for every route.
    let lib = pkg_config::Config::new()
        .atleast_version("0.1")
        .statik(linking == Linking::Static)
        .cargo_metadata(false)
        .probe(PKG_NAME)
        .map_err(|e| e.to_string())?;
    // Empty when the library is in a directory the linker searches anyway.
    let libdir = lib.link_paths.iter().find(|dir| dir.join(linking.file()).exists()).cloned().unwrap_or_default();
    let (private_libs, private_dirs) = match linking {
        Linking::Shared => (Vec::new(), Vec::new()),
        Linking::Static => (
            lib.libs.iter().filter(|name| *name != PKG_NAME).cloned().collect(),
            lib.link_paths.iter().filter(|dir| **dir != libdir).cloned().collect(),
        ),
    };
    let include = lib
        .include_paths
        .iter()
        .find(|dir| dir.join(HEADER).exists())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/usr/include"));
    let root = include.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Found { root, libdir, include, private_libs, private_dirs })
}
