#!/bin/bash
# t_journal: the daemon's operation records reach journald as structured
# entries (journald's native protocol: OPERATION=, RESULT=, OPERATOR=,
# CARD= or HOLDER=, cardmgr/proc/log.c log_op) and carry no secret. journald
# does not run on this machine, so the test binds its own datagram socket
# at /run/systemd/journal/socket inside its private mount namespace
# (journalsink.py, which decodes the protocol as journalctl -o json shows
# it) before the daemon starts; the daemon is the station of
# tests/daemon/stationenv.sh.
. "$TOP/tests/lib/tap.sh"
if [ -n "${PCSCENV_INNER:-}" ]; then
	# inside the namespaces, before stationenv starts the daemon
	mkdir -p /run/systemd/journal
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal
	JOUT=$(mktemp /tmp/journal.XXXXXX)
	python3 "$TOP/tests/firmware/journalsink.py" /run/systemd/journal/socket "$JOUT" &
	SINK=$!
	for ((i = 0; i < 100; i++)); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
fi
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
echo "$SINK" >"$T/pids/journalsink"	# stopped with the rest at exit
. "$TOP/tests/daemon/lib.sh"
R=$(reader_name 0)
PIN=461937 NEWPIN=572814
entries() {	# python filter on e -> the matching entries' FIELD values
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if eval(sys.argv[2]): print(eval(sys.argv[3]))' "$JOUT" "$1" "$2"
}

check "an officer adds a holder" cm officer holders add --id E100 --name "Jane Doe"
vcard_insert 0 "$T/c0.state" --create --serial 7001 >/dev/null
check_eq "a card is issued to E100" done "$(wait_op "$(issue_temp "$R" 7001 "$PIN")")"
printf '%s\n%s\n%s\n' "$PIN" "$NEWPIN" "$NEWPIN" >"$T/s"
cm nobody --secrets-fd 3 pin-change 7001 --reader "$R" 3<"$T/s" >"$T/pc" 2>&1
check_eq "the holder changes the PIN" 0 $?
check_fails "an auditor may not add a holder" cm auditor holders add --id E200 --name "X Y"
sleep 0.2	# the sink writes each datagram as it comes

check_eq "holder_add: OPERATOR= and HOLDER=, RESULT=ok" "Olivia Officer E100 ok" \
    "$(entries 'e.get("OPERATION") == "holder_add"' 'e["OPERATOR"], e["HOLDER"], e["RESULT"]' | tr -d "(),'")"
check_eq "issue: the officer, the holder, ok" "Olivia Officer E100 ok" \
    "$(entries 'e.get("OPERATION") == "issue"' 'e["OPERATOR"], e["HOLDER"], e["RESULT"]' | tr -d "(),'")"
check_eq "pin_change: CARD= the card's serial, RESULT=ok" "7001 ok" \
    "$(entries 'e.get("OPERATION") == "pin_change"' 'e["CARD"], e["RESULT"]' | tr -d "(),'")"
check_grep "a refusal is there too (OPERATION=denied, RESULT=refused, the auditor)" "Ada Auditor refused" \
    <(entries 'e.get("OPERATION") == "denied"' 'e["OPERATOR"], e["RESULT"]' | tr -d "(),'")
check_eq "every entry names its process and the daemon" "engine cardmgrd" \
    "$(entries 'True' 'e.get("CARDMGR_PROCESS"), e.get("SYSLOG_IDENTIFIER")' | sort -u | tr -d "(),'")"
check_eq "no PIN in any entry (old or new)" 0 "$(grep -c -e "$PIN" -e "$NEWPIN" "$JOUT")"
check_eq "nor the token PIN" 0 "$(grep -c -F -- "$CAENV_TOKEN_PIN" "$JOUT")"
check_eq "the entries went to the journal, not to stderr" 0 "$(grep -c 'holder_add' "$T/cardmgrd.log")"
cp "$JOUT" "$(cd "$BIN/.." && pwd)/test-logs/t_journal.entries.json" 2>/dev/null
rm -f "$JOUT"
done_testing
