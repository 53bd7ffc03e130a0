#!/usr/bin/env bash
# Installs what building and testing bitnet-quant needs on Debian 12, plus
# any packages named as arguments. Idempotent; runs apt-get only when a
# package is missing. Usage: tools/setup_debian.sh [PACKAGE...]
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 bc npm
  libhwy-dev libbenchmark-dev python3-numpy python3-torch python3-pytest
  python3-setuptools python3-pip
  nlohmann-json3-dev libcli11-dev libxxhash-dev libgtest-dev
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  # A nodejs package that bundles npm (NodeSource's) conflicts with Debian's npm.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
