#!/bin/bash
# make bench: run every tests/bench_*.sh with the build directory as $1.
# Benchmarks report ratios against a baseline measured in the same run; they are
# never pass/fail on time. BENCH=regex runs only the matching benchmarks.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:?usage: bench.sh BUILD_DIR}" && pwd)
export BIN=$B/bin TOP=$top
rc=0
for b in "$top"/tests/bench_*.sh; do
	[ -f "$b" ] || continue
	n=$(basename "$b" .sh)
	if [ -n "${BENCH:-}" ] && ! grep -qE -- "$BENCH" <<<"$n"; then continue; fi
	echo "== $n"
	bash "$b" "$B" || { echo "$n: exit $?"; rc=1; }
done
exit $rc
