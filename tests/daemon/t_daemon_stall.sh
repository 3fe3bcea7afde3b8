#!/bin/bash
# A card that stops answering in the middle of an issuance (vcard --stall-on
# DB:2: it takes the second PUT DATA, the 9A certificate, and never answers
# anything again). With a short card_timeout_seconds the issuance ends as if
# the card had been pulled (operation failed with "card not responding", the
# card ISSUING), the reader shows "card not responding" and is left alone,
# while another reader issues a card and the API answers; once the mute card
# is pulled and comes back answering, the reader watcher rolls it back and it
# can be issued again. No assertion depends on how long anything takes.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
R2=$(reader_name 2)
out_of() {	# reader index: until pcscd reports it empty
	local i
	for ((i = 0; i < 600; i++)); do
		card_present "$1" || return 0
		sleep 0.05
	done
	return 1
}

# The bounds are range-checked, with file:line.
cp "$T/etc/cardmgrd.conf" "$T/bad.conf"
printf 'card_timeout_seconds = 0;\n' >>"$T/bad.conf"
"$BIN/cardmgrd" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1
check_grep "card_timeout_seconds = 0 is refused at its line" \
    "bad.conf:[0-9]+: card_timeout_seconds must be 1..600" "$T/bad.out"
cp "$T/etc/cardmgrd.conf" "$T/bad.conf"
printf 'card_timeout_seconds = 60;\ncard_keygen_timeout_seconds = 30;\n' >>"$T/bad.conf"
check_fails "a keygen bound below the exchange bound is refused" \
    "$BIN/cardmgrd" -n -c "$T/bad.conf"
printf 'card_timeout_seconds = 4;\n' >>"$T/etc/cardmgrd.conf"
daemon_stop
check "the daemon takes a short card_timeout_seconds" daemon_start
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
"$BIN/vcard" --state "$T/mute.state" --create-only --serial 7000 >/dev/null 2>&1
stock_receive 7000	# issuance takes blank cards from stock

# Reader 2's card goes in first: vcard_insert waits with opensc-tool, which
# hangs on every reader while one card is mute (docs/drivers.md).
vcard_insert 2 "$T/good.state" --create --serial 7002 >/dev/null
vcard_insert 0 "$T/mute.state" --stall-on DB:2 --trace "$T/mute.trace" >/dev/null
sleep 1	# the reader watcher identifies both cards first
op0=$(issue_temp "$R" 7000 482916)
check "issue on the card that will go mute is accepted" test -n "$op0"
op2=$(issue_temp "$R2" 7002 482916)
check "issue on reader 2 is accepted meanwhile" test -n "$op2"
check "the API answers meanwhile" cm auditor status
check_eq "the issuance on the mute card ends failed" failed "$(wait_op "$op0")"
check_grep "the card went mute at the certificate write" 'stall: no response' "$T/mute.trace"
cm officer --json op show "$op0" >"$T/op0.json"
check_grep "the operation says card not responding" 'card not responding' "$T/op0.json"
check_eq "the card stays ISSUING, as if pulled" issuing "$(card_state 7000)"
check_eq "reader 2's issuance is done" done "$(wait_op "$op2")"
check_eq "and its card active" active "$(card_state 7002)"
cm auditor --json readers >"$T/readers.json"
check_eq "readers: reader 0 says card not responding" "card not responding" \
    "$(json "$T/readers.json" '[r for r in j["readers"] if r["name"] == "'"$R"'"][0]["state"]')"
check_eq "readers: reader 2 shows its active card" "card active" \
    "$(json "$T/readers.json" '" ".join((lambda r: (r["state"], r["inventory"]))([r for r in j["readers"] if r["name"] == "'"$R2"'"][0]))')"
printf '482916\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder E100 --profile temporary \
    3<"$T/s.pin" >"$T/again.json" 2>"$T/again.err"
check_grep "a new operation on the mute reader is refused: card not responding" \
    'card_not_responding' "$T/again.err"

# Pull it; it comes back answering: the watcher rolls the torn issuance back.
vcard_remove 0
check "the mute card is out" out_of 0
# OpenSC sees every reader: only now, with no mute card, can it be asked.
check "reader 2's card takes the holder's PIN through OpenSC" \
    pkcs11-tool --module "$OPENSC_P11" --login --pin 482916 --list-objects
vcard_insert 0 "$T/mute.state" >/dev/null
for ((i = 0; i < 120; i++)); do
	[ "$(card_state 7000)" != issuing ] && break
	sleep 0.25
done
check_eq "back in a reader, the card is rolled back" retired "$(card_state 7000)"
check_eq "and its operation with it" rolled_back "$(wait_op "$op0")"
check "the card is back to factory state (yubico-piv-tool)" card_blank "$R"
check_eq "readers: reader 0 serves again" card \
    "$(cm auditor --json readers | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin)["readers"] if r["name"] == "'"$R"'"][0]["state"])')"
op=$(issue_temp "$R" 7000 482916)
check_eq "the same card is issued again" done "$(wait_op "$op")"
check_eq "now active" active "$(card_state 7000)"
check_grep "the daemon logged the mute reader" "card not responding; left alone" "$T/cardmgrd.log"
done_testing
