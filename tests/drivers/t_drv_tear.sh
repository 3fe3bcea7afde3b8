#!/bin/bash
# Tear tests: a full issuance (4 x GENERATE + certificate, CHUID, CCC, PIN and
# PUK change; P-256 keys so that the loop is quick) is K APDUs. For every n <= K the card is pulled at command n
# (vcard --tear-after n: processed, response lost). The operation must fail with
# PIV_ERR_REMOVED (never report success), and after re-insertion `repair` must
# find and fix the half-issued state (keys without certificates), be idempotent,
# and leave a card that OpenSC's PKCS#11 self-test accepts.
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
check_grep "reference issuance succeeds" '^issued=1$' <(drv --ec-only issue "$T/ca.key" "$T/ca.crt" $NEWPIN $NEWPUK)
vcard_remove 0
K=$(grep -c '^>' "$T/ref.trace")
pin_at=$(grep '^>' "$T/ref.trace" | grep -n 'ins=24 p1=00 p2=80' | cut -d: -f1)
echo "# issuance is $K APDUs; PIN change is APDU $pin_at"
[ "$K" -gt 10 ] && [ -n "$pin_at" ] && ok "trace has $K APDUs" || not_ok "bad reference trace"

bad_rc=0 bad_code=0 bad_repair=0 bad_idem=0 bad_p11=0 repaired=0 p11_runs=0
for ((n = 1; n <= K; n++)); do
	cp "$T/blank.state" "$T/c.state"
	vcard_insert 0 "$T/c.state" --tear-after "$n" >/dev/null
	drv --ec-only issue "$T/ca.key" "$T/ca.crt" $NEWPIN $NEWPUK >"$T/out" 2>&1
	rc=$?
	if [ $rc = 0 ] || grep -q '^issued=1' "$T/out"; then
		bad_rc=$((bad_rc + 1)); echo "# n=$n: issue reported success"
	fi
	grep -q 'error: PIV_ERR_REMOVED' "$T/out" || {
		bad_code=$((bad_code + 1)); echo "# n=$n: $(grep error: "$T/out")"; }
	vcard_remove 0
	vcard_insert 0 "$T/c.state" >/dev/null
	drv --ec-only repair "$T/ca.key" "$T/ca.crt" >"$T/rep" 2>&1 || {
		bad_repair=$((bad_repair + 1)); echo "# n=$n: repair failed:"; sed 's/^/#   /' "$T/rep"; }
	grep -q '^repair=' "$T/rep" && repaired=$((repaired + 1))
	drv --ec-only repair "$T/ca.key" "$T/ca.crt" >"$T/rep2" 2>&1
	if [ $? != 0 ] || grep -q '^repair=' "$T/rep2"; then
		bad_idem=$((bad_idem + 1)); echo "# n=$n: second repair not a no-op"; fi
	# The OpenSC cross-check costs ~1 s: every 4th tear and the last two.
	if [ $((n % 4)) = 0 ] || [ "$n" -ge $((K - 1)) ]; then
		pin=123456
		[ "$n" -ge "$pin_at" ] && pin=$NEWPIN
		# Full stacks so that lsan.supp can name the OpenSC ECDH leak.
		ASAN_OPTIONS=${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0 \
		    "$BIN/drvtool" -p $pin p11-selftest >"$T/st" 2>&1
		if [ $? != 0 ] || ! grep -q '^checked=4$' "$T/st"; then
			bad_p11=$((bad_p11 + 1)); echo "# n=$n: OpenSC self-test:"
			sed 's/^/#   /' "$T/st"
		fi
		p11_runs=$((p11_runs + 1))
	fi
	vcard_remove 0
done
check_eq "no torn issuance reported success (n = 1..$K)" 0 $bad_rc
check_eq "every torn issuance failed with PIV_ERR_REMOVED" 0 $bad_code
check_eq "repair succeeded after every tear" 0 $bad_repair
check_eq "a second repair found nothing to do" 0 $bad_idem
check_eq "OpenSC self-test passes on $p11_runs sampled repaired cards (4 keys)" 0 $bad_p11
[ "$repaired" -ge 4 ] && ok "repair had work to do in $repaired of $K cases" ||
    not_ok "repair found work in only $repaired cases"
done_testing
