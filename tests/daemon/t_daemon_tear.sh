#!/bin/bash
# A card pulled at every APDU of an issuance through the daemon (vcard
# --tear-after n; every TEAR_STRIDE-th, see below). Whatever n: the operation never reports success for a card
# that did not finish; when the card comes back the reader watcher rolls it
# back (wiped to factory state: the factory 9B key works, no certificate) and
# every certificate the CA issued for it is revoked; the inventory never calls
# active a card that does not pass OpenSC's self-test; the same card can then
# be issued again.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
export LSAN_OPTIONS=suppressions=$TOP/tests/drivers/lsan.supp
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
"$BIN/vcard" --state "$T/blank.state" --create-only --serial 7000 >/dev/null 2>&1
stock_receive 7000	# issuance takes blank cards from stock

# The reference: how many APDUs an issuance takes, the watcher's included.
cp "$T/blank.state" "$T/ref.state"
vcard_insert 0 "$T/ref.state" --trace "$T/ref.trace" >/dev/null
sleep 1	# the reader watcher identifies every inserted card first
W=$(grep -c '^>' "$T/ref.trace")
op=$(issue_temp "$R" 7000 482916)
check_eq "reference issuance done" done "$(wait_op "$op")"
vcard_remove 0
K=$(grep -c '^>' "$T/ref.trace")
[ "$K" -gt 20 ] && ok "issuance through the daemon is APDUs $((W + 1))..$K (the watcher sends $W first)" ||
    not_ok "bad reference trace ($K)"
check_eq "reference: card active" active "$(card_state 7000)"
check "the badge office takes the temporary card back" cm officer retire 7000 --reason retire
# Every 6th APDU in `make check` (about 3 minutes); TEAR_STRIDE=1 tears at
# every APDU (about 15 minutes on 2 cores: each point is a full issuance, a
# removal, a roll back with two revocations at the CA, and checks).
STRIDE=${TEAR_STRIDE:-6}

bad_success=0 bad_blank=0 bad_active=0 bad_state=0 reissued=0 reissue_fail=0
tried=0
for ((n = W + 1; n <= K; n += STRIDE)); do
	tried=$((tried + 1))
	cp "$T/blank.state" "$T/c.state"
	# A fresh copy of the blank card: back in stock, unless a roll back
	# already put it there.
	[ "$(card_state 7000)" = retired ] && ! cm auditor stock list | grep -q '^7000 ' && stock_receive 7000
	vcard_insert 0 "$T/c.state" --tear-after "$n" >/dev/null || { echo "# n=$n: insert"; continue; }
	sleep 0.3	# let the watcher identify it first
	op=$(issue_temp "$R" 7000 482916)
	st=none
	[ -n "$op" ] && st=$(wait_op "$op")
	vcard_remove 0
	vcard_insert 0 "$T/c.state" >/dev/null
	# Let the watcher finish with the card.
	for ((i = 0; i < 40; i++)); do
		cs=$(card_state 7000)
		[ "$cs" != issuing ] && break
		sleep 0.25
	done
	if [ "$st" = done ]; then
		# Torn after the last APDU of the issuance: a real success.
		[ "$cs" = active ] || { bad_state=$((bad_state + 1)); echo "# n=$n: done but $cs"; }
		pkcs11-tool --module "$OPENSC_P11" --login --pin 482916 --list-objects >/dev/null 2>&1 ||
		    { bad_active=$((bad_active + 1)); echo "# n=$n: active card refuses its PIN"; }
		cm officer retire 7000 --reason retire >/dev/null 2>&1
	else
		[ "$cs" = active ] && { bad_success=$((bad_success + 1)); echo "# n=$n: op $st but card active"; }
		[ "$cs" = issuing ] && { bad_state=$((bad_state + 1)); echo "# n=$n: still issuing"; }
		card_blank "$R" || { bad_blank=$((bad_blank + 1)); echo "# n=$n: card not back to factory state ($cs)"; }
		if [ $((tried % 3)) = 1 ]; then
			op=$(issue_temp "$R" 7000 482916)
			if [ "$(wait_op "$op")" = done ]; then reissued=$((reissued + 1))
			else reissue_fail=$((reissue_fail + 1)); echo "# n=$n: re-issue failed"; fi
			cm officer retire 7000 --reason retire >/dev/null 2>&1
		fi
	fi
	vcard_remove 0
done
ok "$tried tear points tried (every ${STRIDE}th APDU)"
check_eq "no torn issuance left an active card" 0 "$bad_success"
check_eq "no card left issuing or in a wrong state" 0 "$bad_state"
check_eq "every torn card went back to factory state" 0 "$bad_blank"
check_eq "every active card takes its PIN through OpenSC" 0 "$bad_active"
check_eq "re-issuing a rolled-back card succeeded each time tried ($reissued)" 0 "$reissue_fail"
# Give the background drain a moment, then compare with the CA itself.
for ((i = 0; i < 40; i++)); do [ "$(ca_unrevoked)" = 0 ] && break; sleep 0.25; done
check_eq "every certificate the CA issued for these cards is on its CRL" 0 "$(ca_unrevoked)"
cm auditor --json audit verify >"$T/av.json"
check_eq "audit chain intact" True "$(json "$T/av.json" 'j["intact"]')"
check_eq "with a signed checkpoint per 64 entries, each verified" \
    "$(( $(json "$T/av.json" 'j["entries"]') / 64 ))" "$(json "$T/av.json" 'j["checkpoints"]')"
done_testing
