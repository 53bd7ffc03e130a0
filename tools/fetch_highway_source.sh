#!/usr/bin/env bash
# Puts Debian's Highway 1.0.3 source in third_party/highway (git-ignored),
# for -DBITNET_HIGHWAY_SOURCE_DIR=third_party/highway: a static Highway,
# needed where no libhwy-dev exists (the GPU machine). Needs Debian's apt.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=third_party/highway
[ -f "$dest/hwy/highway.h" ] && { echo "$dest already present"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial"
printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  > "$work/parts/src.sources"
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts" -o "Dir::State::Lists=$work/lists")
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" source --download-only highway=1.0.3-3+deb12u1)
tarball=$(ls "$work"/highway_1.0.3.orig.tar.gz)
echo "566fc77315878473d9a6bd815f7de78c73734acdcb745c3dde8579560ac5440e  $tarball" | sha256sum -c -
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1
echo "Highway source in $dest"
