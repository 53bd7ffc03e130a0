#!/usr/bin/env bash
# Installs the Python package python/ offline (pip --no-build-isolation with
# Debian's setuptools, into a scratch directory) and runs its pytest suite
# against that installed copy and the library in build/ (tools/test.sh),
# building the library when needed. The suite includes the README's Python
# example and the absmean check against torch.
# Usage: tools/test_python.sh   (from anywhere; BITNET_BUILD_DIR overrides build/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

tools/setup_debian.sh python3-pytest python3-numpy python3-torch python3-setuptools python3-pip
PY=/usr/bin/python3  # Debian's, with its numpy and torch (not a pyenv python on PATH)
for module in pytest numpy torch setuptools; do
  "$PY" -c "import $module" 2>/dev/null || { echo "test_python: $PY lacks $module" >&2; exit 1; }
done

BUILD=${BITNET_BUILD_DIR:-build}
[ -e "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --target bitnet_quant

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$PY" -m pip install --quiet --no-build-isolation --no-deps --no-index --target "$scratch/site" ./python
rm -rf python/build python/*.egg-info  # setuptools' in-tree leftovers
export BITNET_QUANT_LIBRARY="$(cd "$BUILD" && pwd)/libbitnet_quant.so.0"
# From the scratch directory, `import bitnet_quant` is the installed copy.
cd "$scratch/site"
CI=${CI:-} "$PY" -m pytest -p no:cacheprovider "$ROOT/python/tests" -v
