#!/usr/bin/env bash
# ABI check of libbitnet_quant.so against the baseline abi/libbitnet_quant.abi
# (an abidw dump, x86_64). The library must carry debug info (-g, e.g.
# CMAKE_BUILD_TYPE=RelWithDebInfo).
#
#   abi/check_abi.sh BUILD/libbitnet_quant.so           # check
#   abi/check_abi.sh --update BUILD/libbitnet_quant.so  # refresh the baseline
#
# Rule: added functions and types are compatible. Any other change abidiff
# reports about the baseline's functions (removed or renamed symbols,
# changed parameter or return types, changed layout of a type they reach,
# such as bitnet_quant_options) fails the check, unless the soname changed
# too (SOVERSION is the major version). Refresh the baseline in the change
# that adds functions or bumps the soname, so that the next check compares
# against them.
# The experimental functions and types (the header's BITNET_QUANT_EXPERIMENTAL
# section, listed in abi/experimental.suppr) are left out of the baseline
# and of the comparison: they may change in any release.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=$root/abi/libbitnet_quant.abi
experimental=(--suppressions "$root/abi/experimental.suppr")

update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
[ $# -eq 1 ] || { echo "usage: $0 [--update] path/to/libbitnet_quant.so" >&2; exit 2; }
lib=$1
[ -f "$lib" ] || { echo "abi: no library at $lib" >&2; exit 2; }
if ! readelf -S --wide "$lib" | grep -q '\.debug_info'; then
  echo "abi: $lib has no debug info; build it with -g (RelWithDebInfo)" >&2
  exit 2
fi

soname_of_library() { readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'; }

if [ "$update" -eq 1 ]; then
  # Only the exported functions and the types they reach; no paths or line
  # numbers, so the dump changes only when the ABI does.
  abidw --exported-interfaces-only --no-corpus-path \
    --no-comp-dir-path --no-elf-needed --no-show-locs --type-id-style hash \
    "${experimental[@]}" --out-file "$baseline" "$lib"
  # Source paths relative to the checkout, so that the file does not depend
  # on where it was built.
  sed -i "s|path='$root/|path='|" "$baseline"
  echo "abi: baseline $baseline written from $lib ($(soname_of_library))"
  exit 0
fi

[ -f "$baseline" ] || { echo "abi: no baseline $baseline" >&2; exit 2; }
report=$(mktemp)
trap 'rm -f "$report"' EXIT
rc=0
abidiff --exported-interfaces-only --no-added-syms "${experimental[@]}" "$baseline" "$lib" \
  > "$report" || rc=$?
# abidiff's status bits: 1 error, 2 usage error, 4 ABI change, 8 incompatible change.
if (( rc & 3 )); then
  cat "$report"
  echo "abi: abidiff failed (status $rc)" >&2
  exit 1
fi
# The same comparison with additions shown, only to count them.
added=$( (abidiff --exported-interfaces-only "${experimental[@]}" "$baseline" "$lib" || true) |
  grep -c '^  \[A\] ' || true)
if (( rc == 0 )); then
  echo "abi: compatible with the baseline ($added added symbols)"
  exit 0
fi
cat "$report"
old_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
new_soname=$(soname_of_library)
if [ -n "$old_soname" ] && [ "$old_soname" != "$new_soname" ]; then
  echo "abi: incompatible changes with a soname bump ($old_soname -> $new_soname): accepted;"
  echo "abi: refresh the baseline: abi/check_abi.sh --update $lib"
  exit 0
fi
echo "abi: incompatible change without a soname bump (soname still ${new_soname})" >&2
echo "abi: keep the ABI, or bump BITNET_QUANT_VERSION_MAJOR and refresh the baseline" >&2
exit 1
