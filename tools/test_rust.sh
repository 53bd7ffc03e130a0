#!/usr/bin/env bash
# Builds and tests the Rust workspace rust_crossval/ (bitnet-quant-sys,
# bitnet-quant, bitnet-quant-crossval) offline, crates from Debian's
# librust-*-dev packages, then runs a short cross-validation.
# Uses the library in build/ (tools/test.sh), building it when needed.
# Usage: tools/test_rust.sh   (from anywhere; BITNET_BUILD_DIR overrides build/)
# Needs cargo/rustc >= 1.77: rustup's (~/.cargo/bin) if present, else it
# installs Debian 12's cargo-web (a current cargo/rustc for bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Crates of the workspace; Debian puts optional features in separate
# packages, hence proptest+default.
RUST_PACKAGES=(
  librust-libloading-dev librust-proptest+default-dev librust-criterion-dev
  librust-serde-json-dev librust-pkg-config-dev librust-cmake-dev
  librust-half-dev binutils
)
export PATH="$HOME/.cargo/bin:$PATH"
cargo_is_recent() {
  command -v cargo >/dev/null &&
    cargo --version | awk '{ split($2, v, "."); exit !(v[1] > 1 || v[2] >= 77) }'
}
cargo_is_recent || RUST_PACKAGES+=(cargo-web)
tools/setup_debian.sh "${RUST_PACKAGES[@]}"

BUILD=${BITNET_BUILD_DIR:-build}
# libbitnet_quant.a too (BITNET_BUILD_STATIC), for the `static` feature.
if [ ! -e "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITNET_BUILD_STATIC=ON
elif ! grep -qx 'BITNET_BUILD_STATIC:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  cmake -S . -B "$BUILD" -DBITNET_BUILD_STATIC=ON
fi
cmake --build "$BUILD" --target bitnet_quant bitnet_quant_static

export BITNET_QUANT_DIR
BITNET_QUANT_DIR=$(cd "$BUILD" && pwd)
cargo_is_recent || { echo "test_rust: needs cargo >= 1.77, found: $(cargo --version 2>&1)" >&2; exit 1; }

# The offline registry is this job's configuration, not the crates': a
# CARGO_HOME of our own whose config.toml is tools/cargo-debian-offline.toml
# (cargo run by the tests inherits it).
export CARGO_HOME="$ROOT/rust_crossval/target/cargo-home"
mkdir -p "$CARGO_HOME"
cp tools/cargo-debian-offline.toml "$CARGO_HOME/config.toml"

cd rust_crossval

# Runs tests/linkage.rs linked with libbitnet_quant.a (the `static` feature,
# cargo arguments in "$@"): its code must run from the executable, which
# must not need libbitnet_quant.so.
test_static_linking() {
  cargo test --quiet -p bitnet-quant --test linkage "$@"
  local exe
  exe=$(cargo test --quiet -p bitnet-quant --test linkage --no-run --message-format=json "$@" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
  [ -x "$exe" ] || { echo "test_rust: no linkage test executable" >&2; exit 1; }
  if readelf -d "$exe" | grep NEEDED | grep libbitnet_quant; then
    echo "test_rust: $exe, linked statically, needs libbitnet_quant.so" >&2
    exit 1
  fi
  echo "test_rust: $exe needs no libbitnet_quant.so"
}
# BITNET_RUST_STEPS=crossval (tools/demo.sh) runs only the cross-validation.
if [ "${BITNET_RUST_STEPS:-all}" != crossval ]; then
  # Tests, examples and binaries have an rpath to the library; doctests
  # (rustdoc links them) find it through the loader's path.
  LD_LIBRARY_PATH="$BITNET_QUANT_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" cargo test --workspace
  cargo run --quiet --example quantize_gguf_tensor
  # libbitnet_quant.a of the build directory (its Libs.private).
  test_static_linking --features static --target-dir target/static
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
  cargo fmt --all --check
  # clippy where the toolchain has it (rustup's does; Debian 12's cargo-web not).
  if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --workspace --all-targets -- -D warnings
  elif [ "${CI:-}" = true ]; then
    echo "test_rust: cargo clippy missing (CI=true)" >&2
    exit 1
  fi
  # With no library at all the crates still check; with `bundled` they
  # build the library from this repository (CMake), here the static one
  # found through its installed .pc (pkg-config --static), and pass the
  # tensor tests.
  env -u BITNET_QUANT_DIR PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent \
    cargo check --quiet -p bitnet-quant --target-dir target/without-library
  env -u BITNET_QUANT_DIR PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent \
    cargo test --quiet -p bitnet-quant --features bundled,static --test tensor_api --target-dir target/bundled
  (unset BITNET_QUANT_DIR; export PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent
   test_static_linking --features bundled,static --target-dir target/bundled)
fi
cargo run --release --bin crossval -- --random-cases 300 --json target/crossval.json
