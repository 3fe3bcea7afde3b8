# tests/lib/pcscenv.sh: a private pcscd with 4 vpcd readers, and nothing left after.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
if [ "${1:-}" = inner ]; then
	pcscenv_init "$0" inner || exit 1
	echo "T=$T"
	echo "MNT=$(findmnt -n -o FSTYPE /run/pcscd)"
	echo "LINKS=$(ip -o link | wc -l)"
	opensc-tool -l
	exit 0
fi
out=$(bash "$0" inner 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
check_eq "inner environment came up" 0 "$rc"
n=$(echo "$out" | grep -c 'Virtual PCD [01] 00 0[01]')
check_eq "four virtual readers with the documented names" 4 "$n"
t=$(echo "$out" | sed -n 's/^T=//p')
check "a scratch directory was used" test -n "$t"
check_fails "scratch directory removed afterwards" test -e "$t"
check_fails "no process of that environment is left" pgrep -f "${t:-/nonexistent}"
check_eq "pcscd socket directory was a private tmpfs" "MNT=tmpfs" "$(echo "$out" | grep '^MNT=')"
check_eq "private network namespace (loopback only)" "LINKS=1" "$(echo "$out" | grep '^LINKS=')"
check_fails "that tmpfs is not mounted on the host" bash -c "findmnt -n -o FSTYPE /run/pcscd | grep -q tmpfs"
check_eq "reader_name maps index 3" "Virtual PCD 1 00 01" "$(reader_name 3)"
done_testing
