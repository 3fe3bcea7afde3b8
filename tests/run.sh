#!/bin/bash
# Test runner for `make check`.
#
#   tests/run.sh BUILD_DIR [FUZZ_BUILD_DIR]
#
# Runs, in order: unit tests ($BUILD/bin/test_*), integration tests
# (tests/**/t_*.sh, given BIN=$BUILD/bin), and a replay of every fuzz corpus
# through its libFuzzer harness ($FUZZ/fuzz/*): no crash, enough of the
# project's own code reached (tests/lib/fuzzcov.sh), a short fuzzing run.
# Every test speaks TAP ("ok N -",
# "not ok N -"); a test that exits non-zero without a "not ok" line counts as one
# failure, exit 77 with no TAP lines as skipped. Logs go to $BUILD/test-logs/.
# Set TESTS=pattern to run only the tests whose name matches (grep -E).
# Ends with the line "N passed, N failed, N skipped"; exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/fuzzcov.sh"
B=$(cd "${1:?usage: run.sh BUILD_DIR [FUZZ_DIR]}" && pwd)
F=${2:-}
[ -n "$F" ] && F=$(cd "$F" && pwd)
logs=$B/test-logs
mkdir -p "$logs"	# not emptied: concurrent runs of other subsets share it
export BIN=$B/bin TOP=$top
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
failed_names=()

run_one() {	# name, command...
	local name=$1; shift
	local log=$logs/${name//\//_}.log
	local t0=$SECONDS rc p f
	if [ -n "${TESTS:-}" ] && ! grep -qE -- "$TESTS" <<<"$name"; then
		return
	fi
	rm -f "$log"
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	if [ ! -f "$log" ]; then
		echo "(log $log vanished while the test ran)" >"$log"
		[ "$rc" = 0 ] && rc=1
	fi
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" = 77 ] && [ "$p" = 0 ] && [ "$f" = 0 ]; then
		skipped=$((skipped + 1))
		printf 'SKIP %-40s %s\n' "$name" "$(tail -n 1 "$log")"
		return
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" = 0 ]; then
		printf 'PASS %-40s %3d ok  %4ds\n' "$name" "$p" $((SECONDS - t0))
	else
		failed_names+=("$name")
		printf 'FAIL %-40s %3d ok %d not ok (exit %d)  %ds; log: %s\n' \
		    "$name" "$p" "$f" "$rc" $((SECONDS - t0)) "$log"
		grep -E '^not ok' "$log" | head -n 20 | sed 's/^/     /'
		tail -n 15 "$log" | sed 's/^/     | /'
	fi
}

replay_corpus() {	# fuzzer, corpus dir: three TAP lines per harness
	local fz=$1 corpus=$2 name e tot hf nf top te tt
	name=$(basename "$fz")
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "not ok 1 - $name: empty corpus $corpus"
		return 1
	fi
	export FUZZCOV_OUT=$logs/$name.cov
	if fuzzcov_replay "$fz" "$corpus"; then
		echo "ok 1 - $name replays $(ls "$corpus" | wc -l) corpus inputs"
	else
		echo "not ok 1 - $name crashed on the corpus"
		return 1
	fi
	# The replay's coverage of our own code: a blind harness fails.
	read -r e tot hf nf top te tt <"$FUZZCOV_OUT"
	if fuzzcov_blind "$e"; then
		echo "not ok 2 - $name is blind: its corpus reaches $e edges of the project's code (< $FUZZ_MIN_EDGES)"
	else
		echo "ok 2 - $name reaches $e of $tot edges of the project's code ($hf of $nf functions; $top $te/$tt)"
	fi
	# A short, bounded fuzzing run on top of the replay (new inputs are not kept).
	local scratch; scratch=$(mktemp -d)
	if "$fz" -max_total_time="${FUZZ_CHECK_SECONDS:-3}" -timeout=10 \
	    -artifact_prefix="$logs/$name-" "$scratch" "$corpus"; then
		echo "ok 3 - $name fuzzed ${FUZZ_CHECK_SECONDS:-3}s without a crash"
	else
		echo "not ok 3 - $name: crash found (artifact in $logs)"
	fi
	rm -rf "$scratch"
}

echo "== unit tests ($B/bin)"
for t in "$B"/bin/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done

echo "== integration tests"
while IFS= read -r t; do
	rel=${t#"$top"/tests/}
	run_one "${rel%.sh}" bash "$t"
done < <(find "$top/tests" "$top/cardmgr" "$top/drivers" -name 't_*.sh' -type f 2>/dev/null | sort)

if [ -n "$F" ]; then
	echo "== fuzz corpus replay ($F/fuzz)"
	for fz in "$F"/fuzz/*; do
		[ -x "$fz" ] || continue
		n=$(basename "$fz")
		run_one "fuzz/$n" replay_corpus "$fz" "$top/tests/fuzz/corpus/${n#fuzz_}"
	done
fi

echo
if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
