#!/usr/bin/env bash
# Builds and tests the Rust crate rust_crossval/ offline (crates from
# Debian's librust-*-dev packages), then runs a short cross-validation.
# Uses the library in build/ (tools/test.sh), building it when needed.
# Usage: tools/test_rust.sh   (from anywhere; BITNET_BUILD_DIR overrides build/)
# Needs cargo/rustc >= 1.77: rustup's (~/.cargo/bin) if present, else it
# installs Debian 12's cargo-web (a current cargo/rustc for bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

# Crates of rust_crossval/Cargo.toml; Debian puts optional features in
# separate packages, hence proptest+default.
RUST_PACKAGES=(
  librust-libloading-dev librust-proptest+default-dev librust-criterion-dev
  librust-serde-json-dev librust-pkg-config-dev binutils
)
export PATH="$HOME/.cargo/bin:$PATH"
cargo_is_recent() {
  command -v cargo >/dev/null &&
    cargo --version | awk '{ split($2, v, "."); exit !(v[1] > 1 || v[2] >= 77) }'
}
cargo_is_recent || RUST_PACKAGES+=(cargo-web)
tools/setup_debian.sh "${RUST_PACKAGES[@]}"

BUILD=${BITNET_BUILD_DIR:-build}
[ -e "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --target bitnet_quant

export BITNET_QUANT_DIR
BITNET_QUANT_DIR=$(cd "$BUILD" && pwd)
cargo_is_recent || { echo "test_rust: needs cargo >= 1.77, found: $(cargo --version 2>&1)" >&2; exit 1; }

cd rust_crossval
# BITNET_RUST_STEPS=crossval (tools/demo.sh) runs only the cross-validation.
[ "${BITNET_RUST_STEPS:-all}" = crossval ] || cargo test
cargo run --release --bin crossval -- --random-cases 300 --json target/crossval.json
