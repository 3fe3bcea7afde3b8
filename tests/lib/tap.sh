# TAP helpers for shell tests. Source it; end the test with `done_testing`.
#   ok DESC / not_ok DESC       record a result
#   check DESC CMD...           ok if CMD exits 0 (output goes to the test log)
#   check_fails DESC CMD...     ok if CMD exits non-zero
#   check_eq DESC WANT GOT      ok if the strings are equal (prints both if not)
#   check_grep DESC REGEX FILE  ok if FILE has a line matching REGEX
#   to_gone_reader CMD...       run CMD with its stdout a pipe nobody reads
t_n=0
t_fail=0
ok()     { t_n=$((t_n + 1)); echo "ok $t_n - $*"; }
not_ok() { t_n=$((t_n + 1)); t_fail=$((t_fail + 1)); echo "not ok $t_n - $*"; }
check() {
	local d=$1; shift
	echo "# \$ $*"
	if "$@"; then ok "$d"; else not_ok "$d (exit $?)"; fi
}
check_fails() {
	local d=$1; shift
	echo "# \$ $* (must fail)"
	if "$@"; then not_ok "$d (unexpectedly succeeded)"; else ok "$d"; fi
}
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "#   want: $2"; echo "#   got:  $3"
	fi
}
check_grep() {
	if grep -qE -- "$2" "$3"; then ok "$1"; else
		not_ok "$1"; echo "#   no line matching /$2/ in $3:"; sed 's/^/#   | /' "$3" | tail -n 20
	fi
}
done_testing() {
	echo "1..$t_n"
	[ "$t_fail" = 0 ]
}
# to_gone_reader CMD...: run CMD with SIGPIPE at its default and stdout a pipe
# whose reader closed it before CMD started, so every write fails (EPIPE);
# return CMD's exit status (141 if it died of SIGPIPE). Deterministic, unlike
# `CMD | true`, where CMD may write before true exits.
to_gone_reader() {
	local d rw wr rc
	d=$(mktemp -d) || return 99
	mkfifo "$d/p" || { rm -rf "$d"; return 99; }
	exec {rw}<>"$d/p" {wr}>"$d/p"	# O_RDWR does not block; it is the reader
	exec {rw}<&-			# the reader is gone
	env --default-signal=PIPE "$@" >&$wr
	rc=$?
	exec {wr}>&-
	rm -rf "$d"
	return $rc
}
