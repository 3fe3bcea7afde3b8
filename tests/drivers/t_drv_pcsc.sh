#!/bin/bash
# drivers/pcsc: readers, card events, ATR, and a held PIV handle across a card
# reset, a re-insertion of the same card and a swap for a different card.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@"
. "$TOP/tests/drivers/lib.sh"
R1=$(reader_name 1)

# wait_line FILE REGEX: until FILE has a matching line (30 s: a loaded machine
# can be slow to start an ASan build; this is a wait, not a timing assertion).
wait_line() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# out IDX: wait until pcscd reports reader IDX empty (30 s; vcard_remove gives up
# after 5 s, and a swap pcscd never saw would not be a swap).
out() {
	local i
	for ((i = 0; i < 600; i++)); do
		card_present "$1" || return 0
		sleep 0.05
	done
	return 1
}

check_eq "readers: same list as opensc-tool" \
    "$(opensc-tool -l | grep -o 'Virtual PCD [0-9] 00 0[01]' | sort)" \
    "$("$BIN/drvtool" readers | sed 's/^reader=//' | sort)"


# A reader of drvtool's output gone: an error it reports (exit 1), not a
# death by SIGPIPE (141).
to_gone_reader "$BIN/drvtool" readers 2>"$T/gone.err"
check_eq "stdout closed by its reader: drvtool exits 1, not 141" 1 $?
check_grep "and says the output was lost" '^drvtool: output lost: cannot write to standard output$' "$T/gone.err"

vcard_insert 0 "$T/a.state" --create --serial 1111 >/dev/null

# --- ATR
drv atr >"$T/atr"
check_grep "ATR advertises T=1" '^t1=1$' "$T/atr"
check_grep "connected with T=1" '^protocol=T=1$' "$T/atr"
want=$(opensc-tool -r "$R" -a | tr -d ' :\n' | tr 'A-F' 'a-f')
check_grep "ATR equals opensc-tool's" "^atr=$want\$" "$T/atr"

# --- events: initial scan, then insert and remove in reader 1
"$BIN/drvtool" monitor 7 10000 >"$T/events" 2>&1 &
mon=$!
wait_line "$T/events" "card-inserted reader=$R " || true
check_eq "initial scan: 4 readers" 4 "$(grep -c '^event=reader-added' "$T/events")"
check_grep "initial scan: card in reader 0 with its ATR" \
    "^event=card-inserted reader=$R atr=$want\$" "$T/events"
vcard_insert 1 "$T/b.state" --create --serial 2222 >/dev/null
wait_line "$T/events" "card-inserted reader=$R1 " || true
vcard_remove 1
wait "$mon"
check_eq "monitor exits after 7 events" 0 $?
check_grep "insert in reader 1 reported" "^event=card-inserted reader=$R1 atr=" "$T/events"
check_grep "removal from reader 1 reported" "^event=card-removed reader=$R1\$" "$T/events"
check_eq "no event for reader 0 after the scan" 1 "$(grep -c "reader=$R " "$T/events")"

# --- a held handle: reset by another process. The handle verifies the PIN
# first, so "not verified" after the reset shows the reset cleared it (a
# reset that kept the PIN state would answer PIV_OK).
rm -f "$T/go" "$T/held"	# a stale "ready" from the last step must not count
drvs pin=123456 -- wait-swap "$T/go" >"$T/held" 2>&1 &
h=$!
wait_line "$T/held" '^ready$'
check_grep "the held handle verified the PIN before the reset" '^verified=1$' "$T/held"
check "another process resets the card" drv reset-card
touch "$T/go"
wait "$h"
check_eq "held handle carries on after the reset" 0 $?
check_grep "it saw the same card" '^same-card$' "$T/held"
check_grep "first operation after the reset ran (PIN state was cleared)" \
    '^first=PIV_ERR_WRONG_PIN$' "$T/held"

# --- the same card pulled and put back
rm -f "$T/go" "$T/held"	# a stale "ready" from the last step must not count
drv wait-swap "$T/go" >"$T/held" 2>&1 &
h=$!
check "held handle identified the card" wait_line "$T/held" '^ready$'
vcard_remove 0
check "pcscd saw the card go" out 0
vcard_insert 0 "$T/a.state" >/dev/null
touch "$T/go"
wait "$h"
check_eq "re-inserted same card: handle reconnects" 0 $?
check_grep "identity matched" '^same-card$' "$T/held"

# --- a different card in the same reader
rm -f "$T/go" "$T/held"	# a stale "ready" from the last step must not count
drv wait-swap "$T/go" >"$T/held" 2>&1 &
h=$!
check "held handle identified the first card" wait_line "$T/held" '^ready$'
vcard_remove 0
check "pcscd saw the first card go" out 0
vcard_insert 0 "$T/c.state" --create --serial 3333 >/dev/null
touch "$T/go"
wait "$h"
check_eq "swapped card: operation refused" 1 $?
check_grep "with the distinct code" 'error: PIV_ERR_DIFFERENT_CARD' "$T/held"
check_grep "and no operation ran on the new card" '^first=PIV_ERR_DIFFERENT_CARD$' "$T/held"

# --- a card without PIV is reported as unknown, not guessed
vcard_remove 0
vcard_insert 0 "$T/c.state" --inject-sw A4=6A82:1000 >/dev/null
drv identify >"$T/unknown" 2>&1
check_eq "identify fails on a non-PIV card" 1 $?
check_grep "reported as unknown" '^type=unknown$' "$T/unknown"
check_grep "with PIV_ERR_NOT_PIV" 'error: PIV_ERR_NOT_PIV' "$T/unknown"

# --- a card that answers SELECT and then never again (vcard --stall-on FD:
# mute from GET VERSION on). Each call has a time bound (--timeout-ms); the
# outer `timeout` only turns a hang into a failure instead of a stuck run.
# Reader 2's card goes in first: while a card is mute, OpenSC (opensc-tool,
# which vcard_insert waits with) blocks on every reader, since it asks each
# reader for its features, and the mute one never answers (docs/drivers.md).
vcard_remove 0
vcard_insert 2 "$T/b.state" >/dev/null
vcard_insert 0 "$T/c.state" --stall-on FD --trace "$T/stall.trace" >/dev/null
timeout 300 "$BIN/drvtool" -r "$R" --timeout-ms 1500 identify >"$T/stall" 2>&1
check_eq "identify on a card that stopped answering ends with exit 1" 1 $?
check_grep "reporting card not responding" \
    '^error: PIV_ERR_NOT_RESPONDING \(piv_identify: card not responding\)$' "$T/stall"
check_grep "the card answered SELECT" 'ins=A4 .*' "$T/stall.trace"
check_grep "and went mute at GET VERSION" 'stall: no response' "$T/stall.trace"
check_eq "no fake PC/SC code is reported" 0 "$(grep -c scard_error "$T/stall")"
"$BIN/drvtool" -r "$(reader_name 2)" identify >"$T/other" 2>&1
check_grep "meanwhile another reader serves its card" '^serial=2222$' "$T/other"
timeout 300 "$BIN/drvtool" -r "$R" --timeout-ms 1500 atr >"$T/stall2" 2>&1
check_eq "a second client on the mute reader ends too" 1 $?
check_grep "at connect, card not responding" \
    '^error: PCSC_ERR_NOT_RESPONDING \(pcsc_connect: card not responding\)$' "$T/stall2"
vcard_remove 0
check "pulling the mute card empties the reader" out 0
vcard_insert 0 "$T/c.state" >/dev/null
drv identify >"$T/after" 2>&1
check_grep "the reader serves the next card" '^serial=3333$' "$T/after"
done_testing
