#!/usr/bin/env bash
# Puts mainline llama.cpp v0.5.0 (ggml 0.25.1), the oracle of the
# differential tests, in third_party/llama (git-ignored):
#   third_party/llama/lib/      the npm prebuilt @node-llama-cpp/linux-x64@3.22.1:
#                               libggml-base.so, libggml-cpu-<isa>.so, libllama...
#   third_party/llama/include/  ggml.h, gguf.h, ggml-cpu.h, ggml-backend.h, ggml-alloc.h,
#                               ggml-opt.h (llama.h includes it), llama.h
#                               of exactly that build, from node-llama-cpp@3.22.1's
#                               llama/gitRelease.bundle
# Both npm tarballs are checked against pinned sha256 sums; nothing of them
# is committed. Prints the directory. Needs npm and git (tools/setup_debian.sh).
# Usage: tools/fetch_llama_prebuilt.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-third_party/llama}
headers=(ggml.h gguf.h ggml-cpu.h ggml-backend.h ggml-alloc.h ggml-opt.h)
stamp=$dest/.complete-3.22.1
complete=1
for header in "${headers[@]}" llama.h; do [ -f "$dest/include/$header" ] || complete=0; done
if [ -f "$stamp" ] && [ "$complete" = 1 ]; then
  echo "$dest"
  exit 0
fi

bins_pkg=@node-llama-cpp/linux-x64@3.22.1
bins_sha=0d953e1503d5ab4608d8ed5b739132308c81ac05ffeb760d2a7f30e08a9f90e0
src_pkg=node-llama-cpp@3.22.1
src_sha=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$bins_pkg" "$src_pkg" > /dev/null)
bins_tgz=$work/node-llama-cpp-linux-x64-3.22.1.tgz
src_tgz=$work/node-llama-cpp-3.22.1.tgz
printf '%s  %s\n%s  %s\n' "$bins_sha" "$bins_tgz" "$src_sha" "$src_tgz" | sha256sum -c --quiet -

rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/include" "$work/bins" "$work/src"
tar -xzf "$bins_tgz" -C "$work/bins"
cp "$work"/bins/package/bins/linux-x64/*.so "$work"/bins/package/bins/linux-x64/_nlcBuildMetadata.json \
  "$dest/lib/"
tar -xzf "$src_tgz" -C "$work/src" package/llama/gitRelease.bundle
git clone -q "$work/src/package/llama/gitRelease.bundle" "$work/tree" 2> /dev/null
for header in "${headers[@]}"; do cp "$work/tree/ggml/include/$header" "$dest/include/"; done
cp "$work/tree/include/llama.h" "$dest/include/"
touch "$stamp"
echo "$dest"
