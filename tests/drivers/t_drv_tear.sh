#!/bin/bash
# Tear tests: a full issuance (4 x GENERATE + certificate, CHUID, CCC, PIN and
# PUK change; P-256 keys so that the loop is quick) is K APDUs. For every n <= K
# the card is pulled at command n (vcard --tear-after n: processed, response
# lost). The operation must fail with PIV_ERR_REMOVED (never report success), and
# after re-insertion `repair` must find and fix the half-issued state (keys
# without certificates), be idempotent, and leave a card that OpenSC's PKCS#11
# self-test accepts. (Most of the ~40 s goes to waiting for pcscd to notice
# insertions and removals. XXX running two readers side by side stalled: an
# OpenSC self-test on one card blocked the other reader's loop; not pursued.)
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@"
. "$TOP/tests/drivers/lib.sh"
opensc_private
export LSAN_OPTIONS=suppressions=$TOP/tests/drivers/lsan.supp
make_ca
NEWPIN=11223344 NEWPUK=87654321
"$BIN/vcard" --state "$T/blank.state" --create-only --serial 4000 >/dev/null 2>&1

# The reference run: count the APDUs and where the PIN change is.
cp "$T/blank.state" "$T/ref.state"
vcard_insert 0 "$T/ref.state" --trace "$T/ref.trace" >/dev/null
check_grep "reference issuance succeeds" '^issued=1$' \
    <(drvs newpin=$NEWPIN newpuk=$NEWPUK -- --ec-only issue "$T/ca.key" "$T/ca.crt")
vcard_remove 0
K=$(grep -c '^>' "$T/ref.trace")
pin_at=$(grep '^>' "$T/ref.trace" | grep -n 'ins=24 p1=00 p2=80' | cut -d: -f1)
echo "# issuance is $K APDUs; PIN change is APDU $pin_at"
[ "$K" -gt 10 ] && [ -n "$pin_at" ] && ok "trace has $K APDUs" || not_ok "bad reference trace"

# one_tear IDX N: tear at APDU N on reader IDX; prints "# ..." lines for failures
# and one result line "rc code repair idem p11 repaired p11run" (0/1 each).
one_tear() {
	local idx=$1 n=$2 rd st rc code=0 rep=0 idem=0 p11=0 work=0 ran=0 pin=123456
	rd=$(reader_name "$idx") st=$T/c$idx.state
	cp "$T/blank.state" "$st"
	vcard_insert "$idx" "$st" --tear-after "$n" >/dev/null
	"$BIN/drvtool" -r "$rd" --secrets-fd 3 --ec-only issue "$T/ca.key" "$T/ca.crt" \
	    >"$T/out$idx" 2>&1 3< <(secrets newpin=$NEWPIN newpuk=$NEWPUK)
	rc=$?
	if [ $rc = 0 ] || grep -q '^issued=1' "$T/out$idx"; then
		rc=1; echo "# n=$n: issue reported success"; else rc=0; fi
	grep -q 'error: PIV_ERR_REMOVED' "$T/out$idx" ||
	    { code=1; echo "# n=$n: $(grep error: "$T/out$idx")"; }
	vcard_remove "$idx"
	vcard_insert "$idx" "$st" >/dev/null
	"$BIN/drvtool" -r "$rd" --ec-only repair "$T/ca.key" "$T/ca.crt" >"$T/rep$idx" 2>&1 ||
	    { rep=1; echo "# n=$n: repair failed:"; sed 's/^/#   /' "$T/rep$idx"; }
	grep -q '^repair=' "$T/rep$idx" && work=1
	"$BIN/drvtool" -r "$rd" --ec-only repair "$T/ca.key" "$T/ca.crt" >"$T/rep$idx" 2>&1
	if [ $? != 0 ] || grep -q '^repair=' "$T/rep$idx"; then
		idem=1; echo "# n=$n: second repair not a no-op"; fi
	# The OpenSC cross-check: every 4th tear and the last two.
	if [ $((n % 4)) = 0 ] || [ "$n" -ge $((K - 1)) ]; then
		ran=1
		[ "$n" -ge "$pin_at" ] && pin=$NEWPIN
		# Full stacks so that lsan.supp can name the OpenSC ECDH leak.
		ASAN_OPTIONS=${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0 \
		    "$BIN/drvtool" --secrets-fd 3 p11-selftest "$rd" >"$T/st$idx" 2>&1 \
		    3< <(secrets pin=$pin)
		if [ $? != 0 ] || ! grep -q '^checked=4$' "$T/st$idx"; then
			p11=1; echo "# n=$n: OpenSC self-test:"; sed 's/^/#   /' "$T/st$idx"; fi
	fi
	vcard_remove "$idx"
	echo "$rc $code $rep $idem $p11 $work $ran"
}

for ((n = 1; n <= K; n++)); do
	one_tear 0 "$n"
done >"$T/loop" 2>&1
grep '^#' "$T/loop"
sum() { grep -v '^#' "$T/loop" | awk -v c="$1" '{s += $c} END {print s + 0}'; }
check_eq "all $K tears ran" "$K" "$(grep -vc '^#' "$T/loop")"
check_eq "no torn issuance reported success (n = 1..$K)" 0 "$(sum 1)"
check_eq "every torn issuance failed with PIV_ERR_REMOVED" 0 "$(sum 2)"
check_eq "repair succeeded after every tear" 0 "$(sum 3)"
check_eq "a second repair found nothing to do" 0 "$(sum 4)"
check_eq "OpenSC self-test passes on $(sum 7) sampled repaired cards (4 keys)" 0 "$(sum 5)"
[ "$(sum 6)" -ge 4 ] && ok "repair had work to do in $(sum 6) of $K cases" ||
    not_ok "repair found work in only $(sum 6) cases"
done_testing
