#!/usr/bin/env bash
# Mutation test: the C suite must fail for each deliberate bug in
# tools/mutants.txt (a rule of a reference, a shared rule helper, a Highway
# kernel, the target dispatch). Most kernels are tested against a reference
# that shares their rule helpers, so a bug in a helper passes every
# comparison of the two; this proves the independent expectations (golden
# vectors, test_rules, test_cpu_target) catch it.
#
# Copies the working tree (tracked and new files) to a scratch directory,
# builds the library and the C tests once (Release, no CUDA), then for each
# mutant: replaces its `from` text (which must occur exactly once) with its
# `to` text, rebuilds, runs ctest tier by tier, restores the file. A mutant
# must build and must fail ctest ("killed"); one that passes ("survived"),
# does not apply or does not build fails this script.
# Usage: tools/mutation_test.sh [MUTANTS_FILE]   (15 minutes for 34 mutants
# on 2 idle cores, most of it their rebuilds; the scratch copy goes to
# $BITNET_MUTATION_DIR, default build-mutation/). Mutants of one file next to
# each other save rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
mutants=$(realpath "${1:-tools/mutants.txt}")
work=${BITNET_MUTATION_DIR:-build-mutation}
jobs=${BITNET_JOBS:-2}
python=/usr/bin/python3

rm -rf "$work/src"
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src"
src=$(realpath "$work/src")
build=$(realpath -m "$work/build")

# The rule tests (the packaging and header checks cannot see a rule), in
# tiers by their time on the unmutated copy: a mutant that a quick test kills
# never waits for the slow ones (ctest starts its longest tests first, and
# --stop-on-failure lets running tests finish).
ctest_args=(--test-dir "$build" -j "$jobs" --timeout 120)
tiers=()
run_ctest() {
  : > "$work/ctest.log"
  local tier
  for tier in "${tiers[@]}"; do
    timeout 300 ctest "${ctest_args[@]}" --stop-on-failure -R "$tier" >> "$work/ctest.log" 2>&1 || return 1
  done
}

# Splits the tests of an unmutated ctest log into tier regexes (one per line):
# under 1 s, under 5 s, the rest.
tier_regexes() {
  "$python" - "$1" <<'EOF'
import re, sys
times = {}
for line in open(sys.argv[1]):
    m = re.search(r"Test +#[0-9]+: (\S+) \.+ +Passed +([0-9.]+) sec", line)
    if m:
        times[m.group(1)] = float(m.group(2))
if not times:
    sys.exit("mutation test: no passed test in the unmutated ctest log")
bounds = [1.0, 5.0, float("inf")]
tiers = [[] for _ in bounds]
for name, seconds in times.items():
    tiers[next(i for i, b in enumerate(bounds) if seconds < b)].append(re.escape(name))
for tier in tiers:
    if tier:
        print("^(" + "|".join(sorted(tier)) + ")$")
EOF
}

echo "mutation test: building the unmutated copy in $build"
# The oracle tests read the llama.cpp prebuilt of this tree (git-ignored, so
# not in the copy).
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITNET_WITH_CUDA=OFF \
  -DBITNET_BUILD_BENCH=OFF -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_CLI=OFF \
  -DBITNET_LLAMA_DIR="$PWD/third_party/llama" > "$work/configure.log"
cmake --build "$build" -j "$jobs" > "$work/build.log" ||
  { tail -n 30 "$work/build.log"; echo "mutation test: the unmutated copy does not build"; exit 1; }
timeout 600 ctest "${ctest_args[@]}" -E '^(consumers|header_.*)$' > "$work/ctest.log" 2>&1 ||
  { tail -n 30 "$work/ctest.log"; echo "mutation test: the unmutated copy fails ctest"; exit 1; }
mapfile -t tiers < <(tier_regexes "$work/ctest.log")
((${#tiers[@]})) || exit 1
echo "mutation test: the rule tests in ${#tiers[@]} tiers by time: ${tiers[*]}"

# Each mutant as name, file, from, to (NUL-separated) from the list's blocks:
#   [name] / file: PATH / from: TEXT / to: TEXT
parse() {
  "$python" - "$mutants" <<'EOF'
import sys
fields, mutants = {}, []
for number, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        continue
    if line.startswith("[") and line.endswith("]"):
        fields = {"name": line[1:-1]}
        mutants.append(fields)
        continue
    key, sep, value = line.partition(":")
    if not sep or key not in ("file", "from", "to") or not mutants:
        sys.exit(f"{sys.argv[1]}:{number}: expected [name], file:, from: or to:")
    fields[key] = value.strip()
for m in mutants:
    if set(m) != {"name", "file", "from", "to"}:
        sys.exit(f"mutant {m.get('name')}: needs file, from and to")
    sys.stdout.write("\0".join([m["name"], m["file"], m["from"], m["to"]]) + "\0")
EOF
}

# Replaces the one occurrence of $2 in file $1 with $3.
apply_mutant() {
  "$python" - "$@" <<'EOF'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"'{old}' occurs {text.count(old)} times in {path}, not once")
open(path, "w").write(text.replace(old, new))
EOF
}

# Applies, builds and tests one mutant; prints its outcome and returns 0 when
# it was killed. The original file is copied back afterwards with a new time
# stamp, so the next build recompiles what the mutant changed.
try_mutant() {
  local name=$1 file=$2 from=$3 to=$4 start=$SECONDS outcome by
  cp "$src/$file" "$work/original"
  if ! apply_mutant "$src/$file" "$from" "$to"; then
    outcome="does not apply"
  elif ! cmake --build "$build" -j "$jobs" > "$work/build.log" 2>&1; then
    outcome="does not build"
  elif run_ctest; then
    outcome="SURVIVED"
  else
    by=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Failed.*/\1/p' \
         "$work/ctest.log" | paste -sd, -)
    outcome=""
  fi
  cp "$work/original" "$src/$file"
  if [ -n "$outcome" ]; then
    echo "FAILED   $name: $outcome"
    return 1
  fi
  echo "killed   $name (by ${by:-ctest}, $((SECONDS - start)) s)"
}

killed=0 not_killed=0
while IFS= read -r -u 3 -d '' name && IFS= read -r -u 3 -d '' file &&
      IFS= read -r -u 3 -d '' from && IFS= read -r -u 3 -d '' to; do
  if try_mutant "$name" "$file" "$from" "$to"; then
    killed=$((killed + 1))
  else
    not_killed=$((not_killed + 1))
  fi
done 3< <(parse)
echo "mutation test: $killed killed, $not_killed not"
((not_killed == 0 && killed > 0))
