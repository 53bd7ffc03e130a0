#!/usr/bin/env bash
# bitnet-quant quantize against mainline's llama_model_quantize (the npm
# prebuilt's libllama, through llama-harness) on one synthetic F32 BitNet
# model, same thread count, in one run: best-of-N seconds, input MB/s,
# peak resident memory, the ratio, and for scale the rate at which this
# machine reads the same file from the page cache. (The cli_llama test
# checks that the two outputs' tensor bytes are identical.)
# Usage: cli/bench/bench_quantize.sh BUILD_DIR [THREADS] [LAYERS] [RUNS]
#   LAYERS 6 (default) gives a 1.08 GB F32 model (hidden 2048, FFN 5632).
set -euo pipefail
build=${1:?usage: bench_quantize.sh BUILD_DIR [THREADS] [LAYERS] [RUNS]}
threads=${2:-$(nproc)}
layers=${3:-6}
runs=${4:-2}
tool=$build/cli/bitnet-quant
synth=$build/cli/bitnet-synth
harness=$build/cli/llama/llama-harness
for program in "$tool" "$synth" "$harness"; do
  [[ -x $program ]] || { echo "bench_quantize: $program is missing (build with the llama.cpp prebuilt)" >&2; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/bitnet-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

"$synth" gguf "$dir/f32.gguf" --layers "$layers" --hidden 2048 --ffn 5632 --heads 16 --kv-heads 4
size=$(stat -c %s "$dir/f32.gguf")
mb=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }')

# best of $runs: "seconds peak_kb"
measure() {
  local best="" line
  for ((i = 0; i < runs; ++i)); do
    /usr/bin/time -f '%e %M' -o "$dir/time" "$@" > /dev/null 2> "$dir/err" || { cat "$dir/err" >&2; exit 1; }
    line=$(tail -n 1 "$dir/time")
    if [[ -z $best ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best=$line; fi
  done
  echo "$best"
}

read_line=$(measure dd if="$dir/f32.gguf" of=/dev/null bs=4M)
read_s=${read_line%% *}
echo "model: $mb MB F32 ($layers layers, hidden 2048, FFN 5632), $threads threads, best of $runs runs"
printf '%-36s %8s %10s %10s\n' "" "seconds" "MB/s in" "peak MB"
printf '%-36s %8s %10.0f %10s\n' "read the file (page cache, dd)" "$read_s" "$(awk -v m="$mb" -v s="$read_s" 'BEGIN { print m / s }')" "-"
for type in tq2_0 tq1_0 i2_s; do
  ours=$(measure "$tool" quantize -q -f -j "$threads" "$dir/f32.gguf" "$dir/ours.gguf" --type "$type")
  row() {  # label "seconds peak_kb"
    local s=${2%% *} kb=${2##* }
    printf '%-36s %8s %10.0f %10.0f\n' "$1" "$s" "$(awk -v m="$mb" -v s="$s" 'BEGIN { print m / s }')" \
      "$(awk -v k="$kb" 'BEGIN { print k / 1000 }')"
  }
  row "bitnet-quant quantize --type $type" "$ours"
  if [[ $type == i2_s ]]; then continue; fi  # mainline has no I2_S
  theirs=$(measure "$harness" quantize "$dir/f32.gguf" "$dir/llama.gguf" --ftype "$type" \
           --token-embedding-type f32 -t "$threads")
  row "llama_model_quantize $type" "$theirs"
  awk -v a="${theirs%% *}" -v b="${ours%% *}" -v t="$type" \
    'BEGIN { printf "  ratio %s: bitnet-quant %.2fx llama_model_quantize'"'"'s throughput\n", t, a / b }'
done
