#!/bin/bash
# Approvals (docs/lifecycle.md, "Approvals"), end to end on the real daemon,
# virtual cards and the test CA. The employee profile asks for 2 approvals
# for key recovery; three people other than the requester may give them
# (two by the profile, one by the holder's organisation), one operator
# approves only the contractor profile. The badge officer's replacement of
# a lost card becomes approval request 1 and nothing else happens; the
# requester's own approval, the wrong-scope approver, a second approval by
# the same person and carrying it out early are refused; two approvals
# approve it; the requester carries it out once (a second use is refused);
# OpenSC decrypts mail sent to the lost card on the replacement. A second
# request, approved, survives the engine killed before the activating commit
# (still approved, the new card rolled back) and is carried out once when the
# engine is killed right after it. A third expires when the clock passes 60
# days (CARDMGRD_CLOCK_OFFSET) with an audit record; the state is checked
# through the audit log, the pending report (JSON, CSV, table) and the
# inventory after restarts. A fourth is denied.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

R0=$(reader_name 0) R1=$(reader_name 1) R2=$(reader_name 2)
ANN=2011 BEN=2012 CAT=2013 WES=2014
as_ann() { as_uid $ANN "$@"; }
as_ben() { as_uid $BEN "$@"; }
as_cat() { as_uid $CAT "$@"; }
as_wes() { as_uid $WES "$@"; }

# The approvers, and 2 approvals for the employee profile's key recovery.
daemon_stop
sed -i '$d' "$T/etc/operators.conf"	# the closing ");"
sed -i "s/name = \"Olivia Officer\"; roles = \[ \"badge_officer\" \];/& approves = [ \"employee\" ];/" "$T/etc/operators.conf"
cat >>"$T/etc/operators.conf" <<OPS
  ,{ uid = $ANN; name = "Ann Approver"; roles = [ "helpdesk" ]; approves = [ "employee" ]; },
  { uid = $BEN; name = "Ben Approver"; roles = [ "security_officer" ]; approves = [ "org:Example Ltd" ]; },
  { uid = $CAT; name = "Cat Approver"; roles = [ "badge_officer" ]; approves = [ "employee" ]; },
  { uid = $WES; name = "Wes Elsewhere"; roles = [ "helpdesk" ]; approves = [ "contractor" ]; }
);
OPS
sed -i 's/^self_test = true;/&\napprovals = { key_recovery = 2; };/' "$T/etc/profiles/employee.conf"
check "the daemon starts with approvers and a profile asking for 2 approvals" daemon_start

issue_emp() {	# READER PIN -> the final op state
	printf '%s\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' "$2" >"$T/s"
	cm officer --json --secrets-fd 3 issue --reader "$1" --holder E300 --profile employee \
	    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
	wait_op "$(json "$T/issue.json" 'j["operation"]')"
}
# replace_card CARD READER REASON PIN WHO [APPROVAL]: exit status; $T/rep.json, $T/rep.err
replace_card() {
	printf '%s\n' "$4" >"$T/s.pin"
	cm "$5" --json --secrets-fd 3 replace "$1" --reader "$2" --reason "$3" \
	    ${6:+--approval "$6"} 3<"$T/s.pin" >"$T/rep.json" 2>"$T/rep.err"
}
appr() {	# WHO approve|deny ID [--reason T]: exit status; $T/ap.json, $T/ap.err
	local who=$1; shift
	cm "$who" --json approvals "$@" >"$T/ap.json" 2>"$T/ap.err"
}
ashow() {	# ID EXPR: the request as the auditor sees it
	cm auditor --json approvals show "$1" >"$T/as.json" 2>/dev/null
	json "$T/as.json" "$2"
}
slot_cert() { yubico-piv-tool -r "$1" -a read-certificate -s "$2" 2>/dev/null; }
audit_has() {	# EVENT REF: an audit entry of that event and ref (read until
	local i	# it is there, bounded: entries after an operation's end follow its CA drain)
	for ((i = 0; i < 40; i++)); do
		cm auditor --json audit show --limit 1000 >"$T/audit.json"
		python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
sys.exit(0 if any(e["event"]==sys.argv[2] and e["ref"]==sys.argv[3] for e in j["entries"]) else 1)' \
		    "$T/audit.json" "$1" "$2" && return 0
		sleep 0.25
	done
	return 1
}

cm officer holders add --id E300 --name "Ava Proval" --email ava@example.com \
    --org "Example Ltd" >/dev/null

# --- card B, mail to its key management key, then B is lost
vcard_insert 0 "$T/b.state" --create --serial 7102 >/dev/null
check_eq "card B is issued" done "$(issue_emp "$R0" 572814)"
slot_cert "$R0" 9d >"$T/b9d.pem"
head -c 190 /dev/urandom >"$T/m2"
openssl pkeyutl -encrypt -certin -inkey "$T/b9d.pem" -in "$T/m2" -out "$T/e2"
check "a file is encrypted to B's 9D certificate with openssl" test -s "$T/e2"
vcard_remove 0
vcard_insert 1 "$T/c.state" --create --serial 7103 >/dev/null
sleep 1	# the reader watcher identifies every inserted card first

# --- the request: nothing else happens
card_json 7102; cp "$T/c.json" "$T/b.before"
l0=$(wc -l <"$T/nginx/access.log")
replace_card 7102 "$R1" lost 975310 officer
check_eq "replacing B records an approval request (202, exit 3)" 3 $?
check_eq "request 1, pending, 2 of 3 (the requester is not counted)" "1 pending 2 3" \
    "$(json "$T/rep.json" '"%s %s %s %s" % (j["approval"], j["state"], j["required"], j["approvers"])')"
check_grep "the answer says so" 'approval request 1 created, needs 2 of 3' "$T/rep.json"
printf '975310\n' >"$T/s.pin"
as_officer "$BIN/cardmgr" -s "$T/run/api.sock" --wait --secrets-fd 3 replace 7102 --reader "$R1" \
    --reason lost 3<"$T/s.pin" >"$T/rep.txt" 2>&1
check_eq "asked again: the same request, no second one (exit 3)" 3 $?
check_grep "the CLI prints its state" 'approval request 1 for this card is pending \(0 of 2' "$T/rep.txt"
card_json 7102
check "B's record is unchanged" cmp -s "$T/b.before" "$T/c.json"
check "the card in the reader is still blank" card_blank "$R1"
check_eq "the CA was not asked" "$l0" "$(wc -l <"$T/nginx/access.log")"
check "the audit log has the request" audit_has approval_request.ok approval:1

# --- who sees it
cm ann --json approvals list >"$T/l.json"
check_eq "Ann's list: request 1, waiting for her" "1 True" \
    "$(json "$T/l.json" '" ".join("%s %s" % (a["id"], a["waiting"]) for a in j["approvals"])')"
cm wes --json approvals list >"$T/l.json"
check_eq "Wes (contractor approver) does not see it" "0" "$(json "$T/l.json" 'len(j["approvals"])')"
check_fails "nor can he show it (404)" cm wes --json approvals show 1
cm auditor --json approvals list --state pending >"$T/l.json"
check_eq "the auditor sees every request" "1" "$(json "$T/l.json" 'len(j["approvals"])')"
cm officer --json approvals list >"$T/l.json"
check_eq "the requester sees it, not waiting for him" "1 False" \
    "$(json "$T/l.json" '" ".join("%s %s" % (a["id"], a["waiting"]) for a in j["approvals"])')"

# --- refusals
appr officer approve 1
check_eq "the requester may not approve his own request (403, exit 4)" 4 $?
check_grep "own_request" 'own_request' "$T/ap.json"
appr wes approve 1
check_eq "an approver of another profile is refused (403, exit 4)" 4 $?
check_grep "not_approver" 'not_approver' "$T/ap.json"
appr auditor approve 1
check_eq "the auditor decides nothing (403, exit 4)" 4 $?
check_eq "no approval counted" "pending 0" "$(ashow 1 '"%s %d" % (j["state"], len(j["approvals"]))')"

appr ann approve 1
check_eq "Ann approves (exit 0)" 0 $?
check_eq "1 of 2: still pending" "pending Ann Approver" \
    "$(ashow 1 '"%s %s" % (j["state"], ",".join(a["operator"] for a in j["approvals"]))')"
appr ann approve 1
check_eq "Ann's second approval is refused (409, exit 1)" 1 $?
check_grep "an approver counts once" 'already_approved' "$T/ap.json"
check_eq "and counts once" "pending 1" "$(ashow 1 '"%s %d" % (j["state"], len(j["approvals"]))')"
replace_card 7102 "$R1" lost 975310 officer 1
check_eq "carrying out a pending request is refused (exit 1)" 1 $?
check_grep "approval_pending" 'approval_pending' "$T/rep.json"
check "the card in the reader is still blank" card_blank "$R1"

appr ben approve 1
check_eq "Ben approves by the holder's organisation (exit 0)" 0 $?
check_eq "2 of 2: approved" "approved 2" "$(ashow 1 '"%s %d" % (j["state"], len(j["approvals"]))')"
appr cat approve 1
check_eq "a third approval after the decision is refused (409)" 1 $?
replace_card 7102 "$R1" lost 975310 cat 1
check_eq "another operator may not carry it out (403, exit 4)" 4 $?
check_grep "approval_not_yours" 'approval_not_yours' "$T/rep.json"
replace_card 7102 "$R1" stolen 975310 officer 1
check_eq "nor another replacement than the one approved (409)" 1 $?
check_grep "approval_mismatch" 'approval_mismatch' "$T/rep.json"
card_json 7102
check "B's record is still unchanged" cmp -s "$T/b.before" "$T/c.json"

# --- carried out, once
replace_card 7102 "$R1" lost 975310 officer 1
check_eq "the requester carries it out (202, exit 3)" 3 $?
op=$(json "$T/rep.json" 'j["operation"]')
check_eq "the replacement finishes" done "$(wait_op "$op")"
check_eq "inventory: B lost, C active" "lost active" "$(field 7102 'j["state"]') $(field 7103 'j["state"]')"
check_eq "request 1 is carried out by that operation" "carried_out $op" \
    "$(ashow 1 '"%s %s" % (j["state"], j["operation_id"])')"
check_eq "OpenSC decrypts the file encrypted to B on C (recovered key in 9D)" \
    "$(msg_sha "$T/m2")" "$(p11_decrypted 975310 03 "$T/e2")"
check "the audit log says it was carried out" audit_has approval_carried_out.ok approval:1
check "and has both approvals" audit_has approval_approve.ok approval:1
check "and the refusals" audit_has approval_approve.refused approval:1
vcard_insert 2 "$T/d.state" --create --serial 7104 >/dev/null
sleep 1
replace_card 7102 "$R2" lost 975310 officer 1
check_eq "a second use is refused (409, exit 1)" 1 $?
check_grep "approval_used" 'approval_used' "$T/rep.json"
check "and the card in the reader stays blank" card_blank "$R2"

# --- request 2 (C damaged), approved; the engine killed before the commit
# that would activate the new card: the request stays approved
replace_card 7103 "$R2" damaged 864209 officer
check_eq "replacing C records request 2 (exit 3)" "3 2" "$? $(json "$T/rep.json" 'j["approval"]')"
appr ann approve 2 && appr cat approve 2
check_eq "Ann and Cat approve it" approved "$(ashow 2 'j["state"]')"
die_wait() {	# the engine's crash point stops the daemon: wait for it
	local i pid
	pid=$(cat "$T/pids/cardmgrd")
	for ((i = 0; i < 240; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
	[ "$i" -lt 240 ] && { rm -f "$T/pids/cardmgrd"; return 0; }
	daemon_stop	# still up: stopped, so the test goes on (and fails here)
	return 1
}
daemon_stop
CARDMGRD_CRASH_AT=final:begin daemon_start
replace_card 7103 "$R2" damaged 864209 officer 2
check "killed before the activating commit (the station stopped)" die_wait
check "the daemon starts again" daemon_start
for ((i = 0; i < 40; i++)); do [ "$(card_state 7104)" != issuing ] && break; sleep 0.25; done
check_eq "the new card is rolled back, C still active" "retired active" "$(card_state 7104) $(card_state 7103)"
check "and the card in the reader wiped" card_blank "$R2"
check_eq "request 2 is still approved, carried out by no operation" "approved 0" \
    "$(ashow 2 '"%s %s" % (j["state"], j["operation_id"])')"

# --- killed right after the activating commit: carried out, once
daemon_stop
vcard_remove 2
vcard_insert_raw 2 "$T/e.state" --create --serial 7105 >/dev/null
CARDMGRD_CRASH_AT=replace:committed daemon_start
stock_receive 7105	# received once the station is up (lib.sh)
sleep 1	# the reader watcher identifies every inserted card first
replace_card 7103 "$R2" damaged 864209 officer 2
op=$(json "$T/rep.json" 'j["operation"]')
check "killed after the activating commit (the station stopped)" die_wait
check "the daemon starts again" daemon_start
check_eq "after the restart: C damaged, the new card active" "damaged active" "$(card_state 7103) $(card_state 7105)"
check_eq "and request 2 carried out by that operation" "carried_out $op" \
    "$(ashow 2 '"%s %s" % (j["state"], j["operation_id"])')"
check "C's revocations drain" wait_settled 7103
replace_card 7103 "$R2" damaged 864209 officer 2
check_grep "a second use is refused" 'approval_used' "$T/rep.json"

# --- request 3 (the new card lost), then the report
replace_card 7105 "$R0" lost 864209 officer
check_eq "replacing 7105 records request 3 (exit 3)" "3 3" "$? $(json "$T/rep.json" 'j["approval"]')"
cm auditor --json report pending >"$T/rp.json"
check_eq "the pending report lists it, and only it (JSON)" "approval approval:3 pending 0" \
    "$(json "$T/rp.json" '" ".join(" ".join(str(x) for x in [r[0], r[1], r[3], r[4]]) for r in j["rows"] if r[0] == "approval")')"
check_eq "and counts it" "1 0" "$(json "$T/rp.json" '"%d %d" % (j["approvals"]["pending"], j["approvals"]["approved"])')"
cm auditor report pending --format csv >"$T/rp.csv"
check_grep "CSV too" '^"approval","approval:3","key_recovery_replace","pending","0",' "$T/rp.csv"
cm auditor report pending >"$T/rp.txt"
check_grep "the table names it" 'approval:3' "$T/rp.txt"

# --- 61 days later: request 3 expires, requests 1 and 2 stay carried out
daemon_stop
CARDMGRD_CLOCK_OFFSET=$((61 * 86400)) daemon_start
wait_expired() {
	for ((i = 0; i < 40; i++)); do [ "$(ashow 3 'j["state"]')" = expired ] && return 0; sleep 0.25; done
	return 1
}
check "the scheduler expires request 3" wait_expired
check_eq "by itself" scheduler "$(ashow 3 'j["decided_by"]')"
check "with an audit record" audit_has approval_expire.ok approval:3
check_eq "requests 1 and 2 are still carried out after the restarts (LMDB)" "carried_out carried_out" \
    "$(ashow 1 'j["state"]') $(ashow 2 'j["state"]')"
appr ann approve 3
check_eq "an expired request takes no approval (409)" 1 $?
cm auditor --json report pending >"$T/rp.json"
check_eq "nor is it pending any more" "0" "$(json "$T/rp.json" 'len([r for r in j["rows"] if r[0] == "approval"])')"

# --- a denial
replace_card 7105 "$R0" lost 864209 officer
check_eq "a new request for 7105 (4)" "3 4" "$? $(json "$T/rep.json" 'j["approval"]')"
appr cat deny 4 --reason "not verified"
check_eq "Cat denies it" 0 $?
check_eq "denied, with who and why" "denied Cat Approver not verified" \
    "$(ashow 4 '"%s %s %s" % (j["state"], j["decided_by"], j["note"])')"
replace_card 7105 "$R0" lost 864209 officer 4
check_eq "a denied request is not carried out (409)" 1 $?
check_grep "approval_closed" 'approval_closed' "$T/rep.json"
check_eq "7105 is still active" active "$(card_state 7105)"
check "the audit chain verifies" cm auditor audit verify

done_testing
