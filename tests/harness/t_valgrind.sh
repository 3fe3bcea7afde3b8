# valgrind memcheck on a subset (STYLE: sanitizers by default, valgrind on a subset):
# the release unit tests (not test_vcard, test_ks* nor test_keyd: RSA key
# generation - in the card, in SoftHSM2 inside the test process or keyd's
# forked PKCS#11 helper - takes minutes under valgrind, past the helper's 20 s
# answer limit; their ASan runs cover them), and the release virtual card
# serving a stock client session.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@" || exit 1
R=$TOP/build/release/bin
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --track-fds=no)
vg_unit() {	# binary: its own TAP output is not ours to count
	CMOCKA_MESSAGE_OUTPUT=TAP "${VG[@]}" --log-file="$T/$(basename "$1").vg" "$1" >/dev/null
}
# The card under memcheck (a status, a PIN check, an EC key generation, then
# removal) starts first: it comes up while the unit tests run.
"${VG[@]}" --log-file="$T/vcard.vg" "$R/vcard" --port "$(reader_port 0)" \
    --state "$T/vg.state" --create >"$T/vcard.log" 2>&1 &
vpid=$!
n=0
for t in "$R"/test_*; do
	b=$(basename "$t")
	case $b in test_vcard | test_ks* | test_keyd) continue ;; esac
	n=$((n + 1))
	check "$b is clean under memcheck" vg_unit "$t"
	grep -q . "$T/$b.vg" 2>/dev/null && sed 's/^/#   /' "$T/$b.vg" | head -n 30
done

check "release unit tests were found ($n)" test "$n" -ge 5

for _ in $(seq 200); do card_present 0 && break; sleep 0.1; done

r=$(reader_name 0)
# Under memcheck the card answers 20-50x slower; on a loaded machine the first
# connection can time out in the client: a few tries (the memcheck verdict
# below is what this test is about).
ypt_status_vg() {
	local i
	for i in 1 2 3 4 5; do
		yubico-piv-tool -r "$r" -a status && return 0
		sleep 2
	done
	return 1
}
check "stock client reads the card under valgrind" ypt_status_vg
check "factory PIN verifies" yubico-piv-tool -r "$r" -a verify-pin -P 123456
check "EC key generation" bash -c "yubico-piv-tool -r '$r' -a generate -s 9a -A ECCP256 >'$T/pub.pem'"
check "the public key is a P-256 key" bash -c "openssl pkey -pubin -in '$T/pub.pem' -text -noout | grep -q 'NIST CURVE: P-256'"
kill "$vpid"; wait "$vpid"; rc=$?
sed 's/^/#   /' "$T/vcard.vg" | head -n 40
check_eq "vcard exits cleanly with no memcheck errors" 0 "$rc"
check_fails "memcheck reported nothing for vcard" grep -q . "$T/vcard.vg"
done_testing
