# TAP helpers for shell tests. Source it; end the test with `done_testing`.
#   ok DESC / not_ok DESC       record a result
#   check DESC CMD...           ok if CMD exits 0 (output goes to the test log)
#   check_fails DESC CMD...     ok if CMD exits non-zero
#   check_eq DESC WANT GOT      ok if the strings are equal (prints both if not)
#   check_grep DESC REGEX FILE  ok if FILE has a line matching REGEX
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
