# Every release binary carries the hardening the Makefile promises:
# PIE, full RELRO (GNU_RELRO + BIND_NOW), non-executable stack, stack protector
# and FORTIFY_SOURCE where the code has something to protect. Every systemd
# unit in firmware/ scores 2.0 or lower in `systemd-analyze security` (its
# exposure figure, parsed), and names its pcscd ordering.
. "$TOP/tests/lib/tap.sh"
R=$TOP/build/release/bin
T_OUT=$(mktemp -d)
trap 'rm -rf "$T_OUT"' EXIT
n=0
for f in "$R"/*; do
	[ -x "$f" ] && [ -f "$f" ] || continue
	case $(head -c 4 "$f" | od -An -c | tr -d ' ') in *ELF*) ;; *) continue ;; esac
	n=$((n + 1))
	b=$(basename "$f")
	check_eq "$b is PIE" "DYN" "$(readelf -h "$f" | awk '/Type:/{print $2}')"
	check "$b has GNU_RELRO" bash -c "readelf -lW '$f' | grep -q GNU_RELRO"
	check "$b binds now" bash -c "readelf -dW '$f' | grep -qE 'BIND_NOW|FLAGS_1.*NOW'"
	check_fails "$b has no executable stack" bash -c "readelf -lW '$f' | grep GNU_STACK | grep -q RWE"
done
check "release binaries were found ($n)" test "$n" -gt 0
# At least one binary uses the protector and fortified libc calls.
check "stack protector is in use" bash -c "for f in '$R'/*; do nm -D \"\$f\" 2>/dev/null; done | grep -q __stack_chk_fail"
check "FORTIFY_SOURCE is in use" bash -c "for f in '$R'/*; do nm -D \"\$f\" 2>/dev/null; done | grep -qE '__[a-z]+_chk'"

# --- systemd units (offline: the units are analysed as files, nothing runs)
units=0
for u in "$TOP"/firmware/*.service; do
	[ -f "$u" ] || continue
	units=$((units + 1))
	b=$(basename "$u")
	systemd-analyze security --offline=true --no-pager "$u" >"$T_OUT/$b.sec" 2>&1
	x=$(sed -n 's/.*Overall exposure level for .*: \([0-9][0-9]*\.[0-9]\).*/\1/p' "$T_OUT/$b.sec")
	echo "# $b: exposure $x"
	check "$b: systemd-analyze gives an exposure figure" test -n "$x"
	check "$b: exposure $x is 2.0 or lower" awk -v x="$x" 'BEGIN { exit !(x != "" && x <= 2.0) }'
	check_fails "$b: systemd-analyze verify finds no unknown settings" \
	    grep -qE 'Unknown (key|section)|Failed to parse' <(systemd-analyze verify "$u" 2>&1)
done
check "units were found ($units)" test "$units" -gt 0
check_grep "cardmgrd.service wants pcscd's socket" '^Wants=pcscd\.socket' "$TOP/firmware/cardmgrd.service"
check_grep "cardmgrd.service starts after it" '^After=.*pcscd\.socket' "$TOP/firmware/cardmgrd.service"
check_grep "cardmgrd.service keeps only the capabilities of the privilege drop" \
    '^CapabilityBoundingSet=CAP_SETUID CAP_SETGID$' "$TOP/firmware/cardmgrd.service"
done_testing
