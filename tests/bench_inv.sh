#!/bin/bash
# make bench, inventory: N cards (1 holder, 4 certificates each, expiry over
# 3 years) in a fresh LMDB inventory; lookups by serial, GUID and holder
# against raw mdb_get on the same environment, the 30-day expiry report
# against a full scan, insertion rate and file size per card, all measured in
# the same run (tests/bench/bench_inv.c). Never pass/fail on time.
#
#   tests/bench_inv.sh BUILD_DIR    BENCH_SCALE=full: 1,000,000 cards (~11 GB,
#                                   several minutes); default 100,000.
#                                   BENCH_INV_N / BENCH_INV_K override cards
#                                   and lookups per measurement.
set -u
B=$(cd "${1:?usage: bench_inv.sh BUILD_DIR}" && pwd)
BIN=${BIN:-$B/bin}
case ${BENCH_SCALE:-} in
full) n=1000000 ;;
*) n=100000 ;;
esac
N=${BENCH_INV_N:-$n}
K=${BENCH_INV_K:-100000}
[ -x "$BIN/bench_inv" ] || { echo "bench_inv: $BIN/bench_inv missing (make build)"; exit 1; }
T=$(mktemp -d /tmp/bench_inv.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "inventory bench: $N cards, $K lookups per measurement, in $T (LMDB $(dpkg-query -W -f '${Version}' liblmdb0 2>/dev/null))"
"$BIN/bench_inv" -d "$T/inv" -n "$N" -k "$K"
