# Every release binary carries the hardening the Makefile promises:
# PIE, full RELRO (GNU_RELRO + BIND_NOW), non-executable stack, stack protector
# and FORTIFY_SOURCE where the code has something to protect.
. "$TOP/tests/lib/tap.sh"
R=$TOP/build/release/bin
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
done_testing
