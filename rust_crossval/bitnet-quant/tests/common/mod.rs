//! What every test file needs: the two ways to reach the library. Shared by
//! the tests of bitnet-quant and bitnet-quant-crossval (`#[path]`).
#![allow(dead_code)] // each test file uses a part

use std::path::PathBuf;
use std::sync::OnceLock;

use bitnet_quant::{sys, Library};

/// `$BITNET_QUANT_LIBRARY`, else the library bitnet-quant-sys linked.
pub fn library_path() -> PathBuf {
    if let Some(path) = std::env::var_os("BITNET_QUANT_LIBRARY") {
        return PathBuf::from(path);
    }
    let libdir = env!("BITNET_QUANT_LIBDIR");
    assert!(!libdir.is_empty(), "bitnet-quant-sys found no library directory; set BITNET_QUANT_DIR");
    PathBuf::from(libdir).join(format!("libbitnet_quant.so.{}", sys::BITNET_QUANT_VERSION_MAJOR))
}

/// The library opened with dlopen from a private copy: a second instance
/// with its own state (process-wide target, error messages), so the loaded
/// path is proven on its own and its tests cannot disturb the linked ones.
pub fn loaded() -> &'static Library {
    static LOADED: OnceLock<Library> = OnceLock::new();
    LOADED.get_or_init(|| {
        let source = library_path();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(concat!("loaded-", env!("CARGO_CRATE_NAME")));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join(source.file_name().unwrap());
        std::fs::copy(&source, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        // SAFETY: a copy of the library this crate was built against.
        unsafe { Library::load(&copy) }.unwrap_or_else(|e| panic!("dlopen {}: {e}", copy.display()))
    })
}

/// ("linked", library) and ("loaded", library).
pub fn backends() -> [(&'static str, &'static Library); 2] {
    [("linked", Library::linked()), ("loaded", loaded())]
}
