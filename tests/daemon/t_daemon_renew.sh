#!/bin/bash
# Renewal on presentation, the requirements list, end to end: an employee
# card issued through the daemon needs nothing; the station's clock moved
# (CARDMGRD_CLOCK_OFFSET, test builds) to inside the renewal window lists
# exactly the slots whose certificates, as yubico-piv-tool reads them off
# the card and openssl dates them, fall in their window, each naming the
# serial on the card as the one to revoke (superseded) once renewed; the
# reader status the kiosk polls shows the same slots without serials; a
# profile version bump lists the slot that changed; a supersede rule lists
# the new slot for a card that holds only the old one; the same after a
# restart; check-config refuses a window as long as the certificate.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
if ! grep -qa CARDMGRD_CLOCK_OFFSET "$BIN/cardmgrd"; then
	echo "# release build: no clock offset"; exit 77
fi
DAY=86400
R0=$(reader_name 0)
PROF=$T/etc/profiles/employee.conf
slot_cert() { yubico-piv-tool -r "$R0" -a read-certificate -s "$1" 2>/dev/null; }
# the card's serial of slot S, lower-case hex as the station writes it
card_serial() { slot_cert "$1" | openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f; }
card_not_after() { date -d "$(slot_cert "$1" | openssl x509 -noout -enddate | cut -d= -f2)" +%s; }
reqs() {	# card -> "slot:reason,reason:key:revoke ..." (the operator's view)
	cm auditor --json cards requirements "$1" >"$T/rq.json" 2>"$T/rq.err" || { echo "error"; return; }
	json "$T/rq.json" '" ".join("%s:%s:%s:%s" % (r["slot"], ",".join(r["reasons"]), r["key"], ",".join(r["revoke"])) for r in j["requirements"])'
}
reader_reqs() {	# the reader status the kiosk polls: "slot:reasons ..." and any serial shown
	cm auditor --json readers >"$T/rd.json"
	json "$T/rd.json" '" ".join("%s:%s%s" % (r["slot"], ",".join(r["reasons"]), "".join(":" + k for k in ("old_serial", "revoke") if k in r)) for x in j["readers"] if x["name"] == "'"$R0"'" for r in x.get("requirements", ["none"]) if r != "none") or "none"'
}
restart_at() {	# offset-seconds
	daemon_stop
	CARDMGRD_CLOCK_OFFSET=$1 daemon_start
}

cm officer holders add --id E300 --name "Ren Ewal" --email ren@example.com >/dev/null
vcard_insert 0 "$T/a.state" --create --serial 7101 >/dev/null
printf '%s\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' 385027 >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R0" --holder E300 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "an employee card is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
check_eq "a fresh card needs nothing" "" "$(reqs 7101)"
cm auditor --json readers >"$T/rd.json"
check_eq "its reader status carries an empty list" "[]" \
    "$(json "$T/rd.json" 'json.dumps([x.get("requirements") for x in j["readers"] if x["name"] == "'"$R0"'"][0])')"

# --- the clock moves to 29 days before 9a's certificate ends (read off the card)
NOW=$(date +%s)
NA9A=$(card_not_after 9a)
OFF=$((NA9A - NOW - 29 * DAY))
check "the card's 9a certificate ends more than 30 days from now" test "$OFF" -gt "$DAY"
# 9e gets a 10-day window of its own (the others keep the 30-day default).
daemon_stop
sed -i 's/cert_profile = "card-auth"; cert_days = 1826;/& renew_days = 10;/' "$PROF"
check_grep "the profile gives 9e a 10-day window" 'card-auth"; cert_days = 1826; renew_days = 10;' "$PROF"
# Expected: every slot whose certificate on the card ends within its window
# of the moved clock, from the card's own dates.
want=""
for s in 9a 9c 9d 9e; do
	na=$(card_not_after $s) w=30
	[ $s = 9e ] && w=10
	[ $((na - NOW - OFF)) -le $((w * DAY)) ] && want="$want $s:expiring:new:$(card_serial $s)"
done
want=${want# }
check "some slot, not all, falls in its window (9e's is shorter)" \
    test -n "$want" -a "$(wc -w <<<"$want")" -lt 4
restart_at "$OFF"
check_eq "inside the window: the list names those slots, the serials on the card" "$want" "$(reqs 7101)"
check_eq "the reader status shows the same slots and reasons, no serial" \
    "$(sed 's/:new:[0-9a-f]*//g' <<<"$want")" "$(reader_reqs)"
check_eq "the card's record is unchanged by looking (still active)" active "$(card_state 7101)"
restart_at "$((NA9A - NOW + DAY))"
check_grep "past its end: 9a is expired" "^9a:expired:new:$(card_serial 9a)\$" <(reqs 7101 | tr ' ' '\n')

# --- a profile version bump: 9e changed in version 2
daemon_stop
sed -i 's/^version = 1;/version = 2;/' "$PROF"
python3 - "$PROF" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('cert_profile = "card-auth"; cert_days = 1826;',
              'cert_profile = "card-auth"; cert_days = 1826; since_version = 2;')
open(p, "w").write(s)
PY
check_grep "the edited profile says so" 'since_version = 2' "$PROF"
daemon_start
check_eq "a card of version 1 needs 9e again, with a new key" "9e:profile_version:new:$(card_serial 9e)" "$(reqs 7101)"
daemon_stop
daemon_start
check_eq "the same after a restart (inventory and profile only)" "9e:profile_version:new:$(card_serial 9e)" "$(reqs 7101)"

# --- a supersede rule: version 3 moves the key management key to retired
# slot 82 (X) superseding 9d (Y); the card holds only Y.
daemon_stop
python3 - "$PROF" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('version = 2;', 'version = 3;', 1)
s = s.replace('{ slot = "9d";', '{ slot = "82"; supersedes = [ "9d" ];', 1)
open(p, "w").write(s)
PY
daemon_start
check_eq "holding only 9d: 82 is needed and 9d's certificate goes once 82 is on" \
    "82:supersedes:new:$(card_serial 9d) 9e:profile_version:new:$(card_serial 9e)" "$(reqs 7101)"

# --- refusals
cm auditor cards requirements NOSUCHCARD >/dev/null 2>"$T/rq.err"
check_eq "an unknown card: not found (exit 1)" 1 $?
as_nobody "$BIN/cardmgr" -s "$T/run/api.sock" cards requirements 7101 >/dev/null 2>"$T/rq.err"
check_grep "a caller with no operator role is refused" 'forbidden' "$T/rq.err"
mkdir -p "$T/badprof"
cp "$T/etc/profiles/"* "$T/badprof/"
chmod 0755 "$T/badprof"; chmod 0644 "$T/badprof/"*
sed -i 's/cert_days = 1095;/cert_days = 1095; renew_days = 1095;/' "$T/badprof/employee.conf"
"$BIN/cardmgr-policy-check" "$T/badprof" >"$T/pc.out" 2>&1
check_eq "check-config refuses a window as long as the certificate (exit 1)" 1 $?
check_grep "with file and line" 'employee.conf:[0-9]+: renew_days 1095 must be below cert_days 1095' "$T/pc.out"

done_testing
