#!/bin/bash
# mkdeb.sh: the station's Debian packages (`make deb`).
#
#   firmware/mkdeb.sh [OUT_DIR]      (default build/deb)
#
# The project's top-level layout is fixed, so its debian/ directory lives in
# firmware/debian. This script stages the tree in OUT_DIR/src/cardmgr-VERSION
# with firmware/debian copied to debian/ (what a source package holds), runs
# dpkg-buildpackage -b there, moves the .deb files to OUT_DIR and runs
# lintian on them: exit 1 on a lintian error; warnings are counted.
#
# The release binaries are built first in the tree (build/release, the
# Makefile's hardened flags) and their objects copied into the stage with
# their times, so the package's `make` finds them current instead of
# compiling twice; MKDEB_CLEAN=1 builds from sources alone.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$top"
ver=$(dpkg-parsechangelog -l firmware/debian/changelog -S Version)
bins="cardmgrd cardmgr-selftest cardmgr cardmgr-ca"
if [ -z "${MKDEB_CLEAN:-}" ]; then
	nice make --no-print-directory MODE=release $(printf 'build/release/bin/%s ' $bins) -j2
fi
stage=$out/src/cardmgr-$ver
rm -rf "$out/src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$stage"
# The source: every file of the fixed layout (tracked or new, not build/).
tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$stage" -xpf -
cp -a firmware/debian "$stage/debian"
if [ -z "${MKDEB_CLEAN:-}" ]; then
	mkdir -p "$stage/build/release"
	cp -a build/release/obj build/release/bin "$stage/build/release/"
fi
(cd "$stage" && nice dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
	tail -n 30 "$out/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
mv "$out"/src/*.ddeb "$out"/ 2>/dev/null || true
rm -rf "$stage"
# lintian over the packages (not the staged source: its layout is the
# project's, see firmware/README.md).
lintian --no-tag-display-limit "$out"/*.deb >"$out/lintian.txt" 2>&1 || true
errs=$(grep -c '^E: ' "$out/lintian.txt" || true)
warns=$(grep -c '^W: ' "$out/lintian.txt" || true)
ls "$out"/*.deb
echo "mkdeb: lintian: $errs errors, $warns warnings ($out/lintian.txt)"
[ "$errs" = 0 ] || { grep '^E: ' "$out/lintian.txt" >&2; exit 1; }
