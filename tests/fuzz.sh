#!/bin/bash
# make fuzz: run every libFuzzer harness for N seconds, growing its corpus in
# build/fuzz/corpus/<name> (seeded from tests/fuzz/corpus/<name>). Crashes are
# written to build/fuzz/crashes/. Copy new interesting inputs into
# tests/fuzz/corpus/ by hand (`fuzz_x -merge=1 tests/fuzz/corpus/x build/fuzz/corpus/x`).
set -u
F=$(cd "${1:?usage: fuzz.sh FUZZ_DIR SECONDS}" && pwd)
secs=${2:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
rc=0
mkdir -p "$F/crashes"
for fz in "$F"/fuzz/*; do
	[ -x "$fz" ] || continue
	n=$(basename "$fz"); n=${n#fuzz_}
	mkdir -p "$F/corpus/$n"
	echo "== fuzz_$n for ${secs}s"
	"$fz" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$F/crashes/$n-" "$F/corpus/$n" "$top/tests/fuzz/corpus/$n" \
	    2>&1 | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' || true
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz_$n: CRASH (see $F/crashes)"; rc=1; }
done
exit $rc
