#!/usr/bin/env bash
# The main job: installs what it needs (Debian 12), builds the library and
# the bitnet-quant tool, and tells the tool's story on a synthetic BitNet
# b1.58 model: quantize it to TQ2_0 and beside it let mainline llama.cpp's
# own llama_model_quantize (the npm prebuilt) do the same; run both files in
# mainline llama.cpp and compare their logits; transcode to bitnet.cpp's I2_S
# and back; then the library's parity with BitNet-rs per format and CPU
# target, and the Rust cross-validation.
# Usage: tools/demo.sh   (BITNET_DEMO_LAYERS, default 4, sizes the model)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup_debian.sh

BUILD=${BITNET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --target bitnet-quant bitnet-synth llama-harness bitnet_quant_demo
tool=$BUILD/cli/bitnet-quant
synth=$BUILD/cli/bitnet-synth
harness=$BUILD/cli/llama/llama-harness
dir=$(mktemp -d "${TMPDIR:-/tmp}/bitnet-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT

step() { printf '\n== %s\n' "$*"; }
seconds() {  # seconds a command takes, its output discarded
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

step "1. A synthetic BitNet b1.58 model: mainline arch 'bitnet', a small BPE vocabulary, F32 weights already ternary (q * alpha per tensor)"
"$synth" gguf "$dir/model-f32.gguf" --tokenizer bpe --layers "${BITNET_DEMO_LAYERS:-4}" \
  --hidden 1024 --ffn 2816 --heads 8 --kv-heads 4
echo "model-f32.gguf: $(size_mb "$dir/model-f32.gguf")"

step "2. Quantize to TQ2_0: bitnet-quant, and mainline's llama_model_quantize on the same file"
s_ours=$(seconds "$tool" quantize "$dir/model-f32.gguf" "$dir/ours-tq2_0.gguf" --type tq2_0 --quiet)
s_theirs=$(seconds "$harness" quantize "$dir/model-f32.gguf" "$dir/llama-tq2_0.gguf" --ftype tq2_0 \
  --token-embedding-type f32)
echo "bitnet-quant:         ${s_ours} s -> $(size_mb "$dir/ours-tq2_0.gguf")"
echo "llama_model_quantize: ${s_theirs} s -> $(size_mb "$dir/llama-tq2_0.gguf")"
"$tool" verify "$dir/ours-tq2_0.gguf"

step "3. Both files in mainline llama.cpp: the logits of the same 8 tokens"
tokens=3,1,4,1,5,9,2,6
"$harness" logits "$dir/ours-tq2_0.gguf" --tokens "$tokens" --out "$dir/ours.logits" > /dev/null
"$harness" logits "$dir/llama-tq2_0.gguf" --tokens "$tokens" --out "$dir/llama.logits" > /dev/null
if cmp -s "$dir/ours.logits" "$dir/llama.logits"; then
  echo "identical logits ($(($(stat -c %s "$dir/ours.logits") / 4)) floats, bit for bit)"
else
  echo "the logits differ"
  exit 1
fi

step "4. Transcode to bitnet.cpp's I2_S (a bitnet.cpp file, arch 'bitnet-b1.58') and back, without a float round trip"
"$tool" transcode "$dir/ours-tq2_0.gguf" "$dir/ours-i2_s.gguf" --type i2_s --quiet
"$tool" transcode "$dir/ours-i2_s.gguf" "$dir/back-tq2_0.gguf" --type tq2_0 --quiet
echo "ours-i2_s.gguf: $(size_mb "$dir/ours-i2_s.gguf"); back-tq2_0.gguf: $(size_mb "$dir/back-tq2_0.gguf")"
"$harness" logits "$dir/back-tq2_0.gguf" --tokens "$tokens" --out "$dir/back.logits" > /dev/null
if cmp -s "$dir/ours.logits" "$dir/back.logits"; then
  echo "TQ2_0 -> I2_S -> TQ2_0 runs in mainline with the same logits, bit for bit"
else
  echo "the round trip changed the logits"
  exit 1
fi
"$tool" inspect "$dir/ours-i2_s.gguf" | tail -n 4

cat <<'EOF'

Mainline llama.cpp runs these files, but not BitNet b1.58 2B-4T as it was
trained: its BitNet graph uses SiLU in the feed-forward where 2B-4T needs
ReLU^2, and ollama's Go GGUF parser has no TQ1_0/TQ2_0 sizes. Expect
correct arithmetic from a mainline 2B-4T file today, not good text.
EOF

step "5. The library against BitNet-rs: parity, quantization error and throughput per format and CPU target"
"$BUILD"/tools/bitnet_quant_demo ffi_tests/golden
BITNET_BUILD_DIR="$BUILD" BITNET_RUST_STEPS=crossval tools/test_rust.sh
