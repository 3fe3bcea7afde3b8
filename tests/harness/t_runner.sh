# tests/run.sh counts TAP results, crashes without TAP, and skips, and ends with
# the "N passed, N failed, N skipped" line (what CI reads).
. "$TOP/tests/lib/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests/x" "$tmp/b/bin"
cp "$TOP/tests/run.sh" "$tmp/tests/run.sh"
printf 'echo "ok 1 - a"; echo "ok 2 - b"; echo "not ok 3 - c"; exit 1\n' >"$tmp/tests/x/t_mixed.sh"
printf 'echo "ok 1 - a"\n' >"$tmp/tests/x/t_pass.sh"
printf 'echo boom; exit 3\n' >"$tmp/tests/x/t_crash.sh"
printf 'echo "no hardware"; exit 77\n' >"$tmp/tests/x/t_skip.sh"
printf '#!/bin/sh\necho "ok 1 - unit"\n' >"$tmp/b/bin/test_unit"; chmod +x "$tmp/b/bin/test_unit"

out=$(env -u TESTS bash "$tmp/tests/run.sh" "$tmp/b" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
check_eq "closing line counts every case" "4 passed, 2 failed, 1 skipped" "$(echo "$out" | tail -n 1)"
check_eq "failures make the runner exit 1" 1 "$rc"
check_grep "a crash without TAP is reported as a failure" 'FAIL x/t_crash' <(echo "$out")

# Two lanes: each of this pair waits for the other's mark, so both pass only
# when they run at the same time (and a lane's result is still counted).
mkdir -p "$tmp/tests/y"
for me in a b; do
	other=$([ $me = a ] && echo b || echo a)
	printf 'touch %s/mark_%s; for i in $(seq 100); do [ -e %s/mark_%s ] && { echo "ok 1 - met"; exit 0; }; sleep 0.1; done; echo "not ok 1 - alone"; exit 1\n' \
	    "$tmp" "$me" "$tmp" "$other" >"$tmp/tests/y/t_par_$me.sh"
done
out=$(TESTS='y/' JOBS=2 bash "$tmp/tests/run.sh" "$tmp/b" 2>&1)
echo "$out" | sed 's/^/#   /'
check_eq "JOBS=2 runs two tests at once" "2 passed, 0 failed, 0 skipped" "$(echo "$out" | tail -n 1)"

out=$(TESTS=pass bash "$tmp/tests/run.sh" "$tmp/b" 2>&1); rc=$?
check_eq "TESTS= selects a subset" "1 passed, 0 failed, 0 skipped" "$(echo "$out" | tail -n 1)"
check_eq "an all-pass run exits 0" 0 "$rc"
done_testing
