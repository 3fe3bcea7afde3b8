#!/bin/bash
# make bench: inventory lookups (GUID, serial, holder) against a raw mdb_get,
# and the 30-day expiry report from the index against a full scan, on
# BENCH_INV_CARDS cards (default 1000000) with 4 certificates each.
#   tests/bench_inv.sh BUILD_DIR
set -u
BIN=${BIN:-$(cd "${1:?usage: bench_inv.sh BUILD_DIR}" && pwd)/bin}
d=$(mktemp -d /tmp/bench_inv.XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT
"$BIN/bench_inv" "$d/inv" "${BENCH_INV_CARDS:-1000000}"
