#!/bin/bash
# kill -9 of the engine at every journal step of an issuance (test builds:
# CARDMGRD_CRASH_AT=<step>). The daemon must stop as a whole (fail closed);
# at the next start the interrupted operation is marked failed, the card found
# in its reader is rolled back (factory state, every certificate the CA issued
# for it revoked), and the inventory never calls it active.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
export LSAN_OPTIONS=suppressions=$TOP/tests/drivers/lsan.supp
if ! grep -qa CARDMGRD_CRASH_AT "$BIN/cardmgrd"; then
	echo "# release build: no crash points"; exit 77
fi
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
"$BIN/vcard" --state "$T/blank.state" --create-only --serial 7100 >/dev/null 2>&1
stock_receive 7100	# issuance takes blank cards from stock
daemon_stop

STEPS="auth:begin chuid:begin chuid:done mgmt_key:begin mgmt_key:done
slot_9a:begin enroll:journaled enroll:answered slot_9a:done slot_9e:begin
slot_9e:done pin_puk:begin pin_puk:done final:begin"
# enroll:journaled dies with a CA request linked to the card but not sent (the
# roll back marks it; the certificate the drain gets later is revoked);
# enroll:answered with the certificate issued but not in the inventory.
for step in $STEPS; do
	cp "$T/blank.state" "$T/c.state"
	vcard_insert 0 "$T/c.state" >/dev/null
	CARDMGRD_CRASH_AT=$step daemon_start || { not_ok "$step: daemon start"; continue; }
	op=$(issue_temp "$R" 7100 482916)
	pid=$(cat "$T/pids/cardmgrd")
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null; rc=$?
	rm -f "$T/pids/cardmgrd"
	check "$step: the engine's death stopped the daemon (exit $rc)" test "$rc" != 0
	check "$step: the daemon starts again" daemon_start
	for ((i = 0; i < 40; i++)); do
		cs=$(card_state 7100)
		[ "$cs" != issuing ] && break
		sleep 0.25
	done
	check_fails "$step: the card is not active" test "$cs" = active
	check_fails "$step: nor left issuing" test "$cs" = issuing
	check_grep "$step: the operation is not done" '"state": *"(failed|rolled_back)"' \
	    <(cm officer --json op show "$op")
	check "$step: the card is back to factory state" card_blank "$R"
	for ((i = 0; i < 40; i++)); do [ "$(ca_unrevoked)" = 0 ] && break; sleep 0.25; done
	check_eq "$step: every certificate issued for it is revoked at the CA" 0 "$(ca_unrevoked)"
	daemon_stop
	vcard_remove 0
done
daemon_start
cp "$T/blank.state" "$T/c.state"
vcard_insert 0 "$T/c.state" >/dev/null
sleep 0.5
op=$(issue_temp "$R" 7100 482916)
check_eq "after all that the same card issues normally" done "$(wait_op "$op")"
check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
done_testing
