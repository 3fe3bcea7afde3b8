#!/bin/bash
# make fuzz: run every libFuzzer harness for N seconds, growing its corpus in
# build/fuzz/corpus/<name> (seeded from tests/fuzz/corpus/<name>). Crashes are
# written to build/fuzz/crashes/. Copy new interesting inputs into
# tests/fuzz/corpus/ by hand (`fuzz_x -merge=1 tests/fuzz/corpus/x build/fuzz/corpus/x`).
#
# Then a table: per harness, what its corpus (seeds and grown) reaches of the
# project's own code (tests/lib/fuzzcov.sh): sanitizer-coverage edges, of the
# edges of the project functions linked in, and the file most reached. A
# harness below FUZZ_MIN_EDGES (a blind one) fails the run, as a crash does.
#
#   tests/fuzz.sh FUZZ_DIR SECONDS [NAME...]   (NAME: only these harnesses)
set -u
F=$(cd "${1:?usage: fuzz.sh FUZZ_DIR SECONDS [NAME...]}" && pwd)
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
. "$TOP/tests/lib/fuzzcov.sh"
rc=0
table=()
mkdir -p "$F/crashes"
for fz in "$F"/fuzz/*; do
	[ -x "$fz" ] || continue
	n=$(basename "$fz"); n=${n#fuzz_}
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxE "(fuzz_)?$n"; then
		continue
	fi
	mkdir -p "$F/corpus/$n"
	echo "== fuzz_$n for ${secs}s"
	"$fz" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$F/crashes/$n-" "$F/corpus/$n" "$TOP/tests/fuzz/corpus/$n" \
	    2>&1 | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' || true
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz_$n: CRASH (see $F/crashes)"; rc=1; }
	FUZZCOV_OUT=$(mktemp)
	export FUZZCOV_OUT
	fuzzcov_replay "$fz" "$F/corpus/$n" "$TOP/tests/fuzz/corpus/$n" >/dev/null
	read -r e tot hf nf top te tt <"$FUZZCOV_OUT"
	rm -f "$FUZZCOV_OUT"
	verdict=ok
	if fuzzcov_blind "$e"; then
		verdict=BLIND
		rc=1
	fi
	inputs=$(($(ls "$F/corpus/$n" | wc -l) + $(ls "$TOP/tests/fuzz/corpus/$n" | wc -l)))
	table+=("$(printf '%-22s %7d %6d %7d %4d%% %7s  %-7s %s %d/%d' "fuzz_$n" \
	    "$inputs" "$e" "$tot" $((tot > 0 ? 100 * e / tot : 0)) "$hf/$nf" \
	    "$verdict" "$top" "$te" "$tt")")
done
echo
echo "== project code reached by each corpus (edges; blind below $FUZZ_MIN_EDGES)"
printf '%-22s %7s %6s %7s %5s %7s  %-7s %s\n' harness inputs edges linked '%' funcs verdict 'most reached file'
printf '%s\n' "${table[@]}"
exit $rc
