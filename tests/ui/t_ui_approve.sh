#!/bin/bash
# The kiosk's Approvals screen end to end (issue 9; docs/lifecycle.md,
# "Approvals"): the employee profile asks for one approval for key recovery.
# Olga (badge officer) logs in at the kiosk with her card and asks for the
# replacement of a lost card: the kiosk shows approval request 1 and nothing
# else happens; Bob (help desk, approver of the employee profile) logs in
# with his card, finds it waiting for him and approves it; Olga logs in
# again, carries it out from her requests and the card is replaced. Then
# the same for a temporary card (also a key recovery): request 2, approved
# by Bob, carried out by Olga from her Approvals screen (#temporary?approval=2).
# tests/ui/approve.mjs drives Debian's chromium; the shell checks the effects
# through the CLI (the request's state and approvals, both cards' states),
# the card in the reader (still blank after the request) and the audit log.
# Screenshots: test-logs/ui-approve/.
. "$TOP/tests/lib/tap.sh"
if [ ! -d "$TOP/tests/ui/node_modules/playwright-core" ] ||
    [ ! -d "$TOP/kiosk-ui/node_modules/libsodium-wrappers" ] || [ ! -x /usr/bin/chromium ]; then
	echo "# skipped: make ui-deps (npm ci) and chromium (make deps) first"
	exit 77
fi
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
K=http://127.0.0.1:8410
R0=$(reader_name 0) R1=$(reader_name 1)
ART=$(dirname "$BIN")/test-logs/ui-approve
rm -rf "$ART"
mkdir -p "$ART"

# --- two operator cards, issued by the station, registered; reader 1
op_card() {	# SERIAL HOLDER NAME PIN ROLES
	cm officer holders add --id "$2" --name "$3" >/dev/null
	vcard_insert 1 "$T/card$1.state" --create --serial "$1" >/dev/null
	printf '%s\n' "$4" >"$T/s"
	cm officer --json --secrets-fd 3 issue --reader "$R1" --holder "$2" --profile temporary \
	    3<"$T/s" >"$T/issue.json"
	[ "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")" = done ] || return 1
	yubico-piv-tool -r "$R1" -a read-certificate -s 9a >"$T/op$1.crt" 2>/dev/null
	"$BIN/cardmgr" operator add --cert "$T/op$1.crt" --name "$3" --roles "$5" \
	    --operators "$T/etc/operators.conf" || return 1
	vcard_remove 1
}
check "Bob's operator card (help desk)" op_card 6002 OP2 "Bob Approver" 572814 helpdesk
check "Olga's operator card (badge officer)" op_card 6001 OP1 "Olga Operator" 461937 badge_officer
sed -i 's/name = "Bob Approver"; roles = \[ "helpdesk" \];/& approves = [ "employee" ];/' "$T/etc/operators.conf"
check_grep "Bob approves the employee profile" 'Bob Approver.*approves = \[ "employee" \]' "$T/etc/operators.conf"
sed -i 's/^self_test = true;/&\napprovals = { key_recovery = 1; };/' "$T/etc/profiles/employee.conf"

# --- the holder's card 5301, issued, then lost (not in a reader)
cm officer holders add --id E400 --name "Lu Stcard" --email lu@example.com >/dev/null
vcard_insert 0 "$T/card5301.state" --create --serial 5301 >/dev/null
printf '246813\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R0" --holder E400 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "the holder's card 5301 is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
vcard_remove 0
daemon_stop
check "the daemon starts with the operators and the approval rule" daemon_start
vcard_insert 1 "$T/card6001.state" >/dev/null

ui_do() {	# one action asked by approve.mjs; one line back
	case $1 in
	insert-blank) vcard_insert 0 "$T/card$2.state" --create --serial "$2" >/dev/null && echo done || echo failed ;;
	pull) vcard_remove 0 && echo done || echo failed ;;
	op-card) vcard_remove 1 && vcard_insert 1 "$T/card$2.state" >/dev/null && echo done || echo failed ;;
	blank) card_blank "$R0" && echo blank || echo written ;;
	state) card_state "$2" ;;
	approval) cm auditor --json approvals show "$2" >"$T/a.json" 2>/dev/null &&
	    json "$T/a.json" '"%s %s %s" % (j["state"], ",".join(a["operator"] for a in j["approvals"]), j["requester"])' || echo none ;;
	*) echo unknown ;;
	esac
}
coproc UI { cd "$TOP/tests/ui" && UI_URL=$K UI_ARTIFACTS=$ART UI_PROFILE=$T/chromium \
    UI_OP_READER=$R1 exec node approve.mjs 2>"$T/node.err"; }
ui_pid=$UI_PID
while IFS= read -r line <&"${UI[0]}"; do
	case $line in
	'@@ok '*) ok "${line#@@ok }" ;;
	'@@notok '*) not_ok "${line#@@notok }" ;;
	'@@do '*) ui_do ${line#@@do } >&"${UI[1]}" ;;
	*) echo "$line" ;;
	esac
done
wait "$ui_pid"
check_eq "the browser script ends cleanly" 0 "$?"
[ -s "$T/node.err" ] && sed 's/^/# node: /' "$T/node.err"
audit_lines() {	# the audit log as "actor event ref" lines in $T/aud.txt
	cm auditor --json audit show --limit 1000 >"$T/audit.json"
	python3 - "$T/audit.json" >"$T/aud.txt" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1]))["entries"]:
    print(e["actor"], e["event"], e["ref"])
PY
}
# The operation is done when the new card is; its audit entries follow the
# CA drain: read until they are there (bounded).
for ((i = 0; i < 40; i++)); do
	audit_lines
	grep -q 'approval_carried_out' "$T/aud.txt" && break
	sleep 0.25
done
check_grep "the request, by Olga" '^Olga Operator approval_request.ok approval:1$' "$T/aud.txt"
check_grep "the approval, by Bob" '^Bob Approver approval_approve.ok approval:1$' "$T/aud.txt"
check_grep "carried out by Olga" '^Olga Operator approval_carried_out.ok approval:1$' "$T/aud.txt"
done_testing
