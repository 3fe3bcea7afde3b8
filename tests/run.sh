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
# JOBS=N runs N tests at a time (default: the number of CPUs, at most 2). Each
# test that needs readers, a CA or a daemon lives in its own mount, network and
# PID namespaces (tests/lib/pcscenv.sh), so two never meet; the longest tests
# (LONG_FIRST) start first so the lanes end together.
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

res=$(mktemp -d)	# one result line per test: "passed failed skipped"
trap 'rm -rf "$res"' EXIT
# One lane more than CPUs, at most 3: the daemon tests wait on cards, the CA
# and each other's processes about a third of the time (2 lanes kept 2 cores
# 62 % busy; 3 lanes, 90 %).
JOBS=${JOBS:-$(n=$(nproc 2>/dev/null || echo 1); n=$((n + 1)); [ "$n" -gt 3 ] && n=3; echo "$n")}
# Started before the rest, longest first (seconds in a full run on 2 cores).
LONG_FIRST='daemon/t_daemon_tear daemon/t_daemon_renew daemon/t_daemon_approve harness/t_valgrind daemon/t_daemon_replace firmware/t_deb ui/t_ui_operator daemon/t_daemon_crash ui/t_ui_approve daemon/t_daemon daemon/t_daemon_drain drivers/t_drv_tear daemon/t_daemon_login daemon/t_daemon_life'
seq_no=0

run_one() {	# name, command...: runs the test, prints its line, records its counts
	local name=$1; shift
	local log=$logs/${name//\//_}.log
	local t0=$SECONDS rc p f out
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
		printf 'SKIP %-40s %s\n' "$name" "$(tail -n 1 "$log")"
		echo "0 0 1 $name" >"$res/$name_id"
		return
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
	fi
	echo "$p $f 0 $name" >"$res/$name_id"
	if [ "$f" = 0 ]; then
		printf 'PASS %-40s %3d ok  %4ds\n' "$name" "$p" $((SECONDS - t0))
	else
		# One write, so a parallel lane's line does not land inside it.
		out=$(printf 'FAIL %-40s %3d ok %d not ok (exit %d)  %ds; log: %s\n' \
		    "$name" "$p" "$f" "$rc" $((SECONDS - t0)) "$log"
		    grep -E '^not ok' "$log" | head -n 20 | sed 's/^/     /'
		    tail -n 15 "$log" | sed 's/^/     | /')
		printf '%s\n' "$out"
	fi
}

start() {	# name, command...: run_one in a lane once one is free
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	seq_no=$((seq_no + 1))
	name_id=$seq_no run_one "$@" &
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

# Every test as "name<TAB>kind<TAB>path", long ones first.
list=$(
	for t in "$B"/bin/test_*; do
		[ -x "$t" ] && printf 'unit/%s\tunit\t%s\n' "$(basename "$t")" "$t"
	done
	find "$top/tests" "$top/cardmgr" "$top/drivers" -name 't_*.sh' -type f 2>/dev/null |
	    sort | while IFS= read -r t; do
		rel=${t#"$top"/tests/}
		printf '%s\tshell\t%s\n' "${rel%.sh}" "$t"
	done
	if [ -n "$F" ]; then
		for fz in "$F"/fuzz/*; do
			[ -x "$fz" ] && printf 'fuzz/%s\tfuzz\t%s\n' "$(basename "$fz")" "$fz"
		done
	fi
)
ordered=$(
	for l in $LONG_FIRST; do grep -P "^\Q$l\E\t" <<<"$list"; done
	grep -vP "^($(sed 's/ /|/g' <<<"$LONG_FIRST"))\t" <<<"$list"
)
if [ -n "${TESTS:-}" ]; then
	ordered=$(while IFS= read -r l; do
		grep -qE -- "$TESTS" <<<"${l%%$'\t'*}" && printf '%s\n' "$l"
	done <<<"$ordered")
fi
echo "== tests: $(grep -c . <<<"$ordered"), $JOBS at a time (logs: $logs)"
while IFS=$'\t' read -r name kind path; do
	[ -n "$name" ] || continue
	case $kind in
	unit)  start "$name" "$path" ;;
	shell) start "$name" bash "$path" ;;
	fuzz)  n=$(basename "$path")
	       start "$name" replay_corpus "$path" "$top/tests/fuzz/corpus/${n#fuzz_}" ;;
	esac
done <<<"$ordered"
wait

passed=0 failed=0 skipped=0
failed_names=()
for r in "$res"/*; do
	[ -f "$r" ] || continue
	read -r p f k name <"$r"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
	[ "$f" != 0 ] && failed_names+=("$name")
done

echo
if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
