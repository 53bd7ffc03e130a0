//! A BitNet-rs user points BITNET_CPP_DIR at this library: tools/
//! bitnet_cpp_dir.sh lays the directory out, and bitnet_rs_link/ (BitNet-rs's
//! probe, link lines and bridge declarations) builds against it and passes
//! the checks of BitNet-rs's FFI tests.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn make_layout() -> PathBuf {
    let libdir = env!("BITNET_QUANT_LIBDIR");
    assert!(!libdir.is_empty(), "build.rs found no library directory; set BITNET_QUANT_DIR");
    let out = scratch("bitnet_cpp_dir");
    let status = Command::new(manifest_dir().join("../../tools/bitnet_cpp_dir.sh"))
        .arg(libdir)
        .arg(&out)
        .status()
        .expect("run tools/bitnet_cpp_dir.sh");
    assert!(status.success());
    out
}

/// `cargo run` of bitnet_rs_link with the given BITNET_CPP_DIR.
fn run_link_check(bitnet_cpp_dir: &Path) -> Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline"])
        .current_dir(manifest_dir().join("bitnet_rs_link"))
        .env("CARGO_TARGET_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bitnet_rs_link"))
        .env("BITNET_CPP_DIR", bitnet_cpp_dir)
        .env_remove("BITNET_CPP_PATH")
        // BitNet-rs links without an rpath: the loader needs this.
        .env("LD_LIBRARY_PATH", bitnet_cpp_dir.join("build/lib"))
        .output()
        .expect("run cargo")
}

#[test]
fn bitnet_rs_links_and_passes_through_bitnet_cpp_dir() {
    let layout = make_layout();
    for file in ["include/ggml-bitnet.h", "include/bitnet_quant.h", "build/lib/libbitnet.so"] {
        assert!(layout.join(file).exists(), "{file} missing from the layout");
    }
    let out = run_link_check(&layout);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("have_cpp"),
        "link check failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without the sentinel header BitNet-rs builds its stubs instead.
    let empty = scratch("bitnet_cpp_dir_without_header");
    std::fs::create_dir_all(empty.join("build")).unwrap();
    std::os::unix::fs::symlink(layout.join("build/lib"), empty.join("build/lib")).unwrap();
    let out = run_link_check(&empty);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stubs"));
}
