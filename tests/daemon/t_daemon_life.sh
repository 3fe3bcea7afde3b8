#!/bin/bash
# The card lifecycle as configuration, end to end: suspend and reinstate
# through the `cardmgr` CLI against a virtual card and the test CA, lost and
# stolen through the same transition table. Every effect is checked through
# another path: the test CA's CRL parsed by `openssl crl -text` (reason per
# serial), the inventory after a daemon restart, the HTTP answer code, the
# CA front's access log. With the CA unreachable (nginx stopped) a
# suspension is recorded pending and converges when it is back. A
# transition the lifecycle does not allow is refused (409) and changes
# nothing; roles come from the lifecycle file; check-config, cardmgrd -n
# and the daemon's start refuse a broken lifecycle with file:line.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

nginx_stop() {
	kill "$(cat "$T/pids/nginx")" 2>/dev/null
	wait "$(cat "$T/pids/nginx")" 2>/dev/null
	rm -f "$T/pids/nginx"
}

# --- an employee card to work on
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 6001 >/dev/null
printf '461937\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder E100 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "an employee card is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
SN=$(serials 6001)
check_eq "with 4 certificates" 4 "$(wc -w <<<"$SN")"
check "none of them on the CA's CRL" crl_has absent $SN

# --- who may: the lifecycle's roles, narrowed by the profile
cp "$T/c.json" "$T/before.json"
cm officer suspend 6001 --reason "desk says so" 2>"$T/err"
check_eq "a badge officer may not suspend (lifecycle: helpdesk, security officer): exit 4" 4 $?
check_grep "the refusal names the lifecycle" 'lifecycle' "$T/err"
check_eq "the card is still active" active "$(field 6001 'j["state"]')"
check_fails "suspend without a reason is a usage error" cm security suspend 6001

# --- suspend: the certificates go on hold at the CA
l0=$(wc -l <"$T/nginx/access.log")
cm security --json suspend 6001 --reason "left at a conference" >"$T/susp.json"
check_eq "the security officer suspends the card (exit 0: the CA confirmed)" 0 $?
check_eq "the answer: suspended, nothing pending, effect hold" "suspended 0 hold certificateHold" \
    "$(json "$T/susp.json" '" ".join(str(j[k]) for k in ("state", "pending_ca", "effect", "crl_reason"))')"
check "the CA's CRL lists the 4 certificates with reason certificateHold" crl_has CertificateHold $SN
check_eq "the CA was asked through its front (4 revocation requests)" 4 \
    "$(tail -n +$((l0 + 1)) "$T/nginx/access.log" | grep -c '"POST /cmp ')"
check_eq "inventory: suspended" suspended "$(field 6001 'j["state"]')"
check_eq "its certificates: hold" hold "$(cert_states 6001)"
check_grep "the card's history keeps the reason" '"detail": *"reason: left at a conference' "$T/c.json"

# --- a transition the lifecycle does not allow: 409, nothing changes
cp "$T/c.json" "$T/before.json"
l0=$(wc -l <"$T/nginx/access.log")
check_eq "suspending a suspended card: 409" 409 "$(post security /v1/cards/6001/suspend '{"reason":"again"}')"
check_grep "with the lifecycle's sentence" 'lifecycle does not allow suspend from state suspended' "$T/post.json"
check_eq "a retire reason that names no transition is refused by the API: 400" 400 \
    "$(post security /v1/cards/6001/retire '{"reason":"misplaced"}')"
card_json 6001
check "and the card record, certificates and history are unchanged" cmp -s "$T/before.json" "$T/c.json"
check_eq "and the CA was not asked" "$l0" "$(wc -l <"$T/nginx/access.log")"

# --- reinstate: the hold is released
cm helpdesk --json reinstate 6001 >"$T/rein.json"
check_eq "the help desk reinstates it (exit 0)" 0 $?
check_eq "the answer: active, effect unhold, removeFromCRL" "active unhold removeFromCRL" \
    "$(json "$T/rein.json" '" ".join(str(j[k]) for k in ("state", "effect", "crl_reason"))')"
check "the next CRL no longer lists them" crl_has absent $SN
check_eq "inventory: active, certificates valid" "active valid" "$(field 6001 'j["state"]') $(cert_states 6001)"
check "OpenSC still logs in on the reinstated card" p11tool --login --pin 461937 --list-objects
check_eq "reinstating an active card: 409" 409 "$(post helpdesk /v1/cards/6001/reinstate '{}')"

# --- the CA unreachable: recorded pending, converges when it is back
nginx_stop
cm security --json suspend 6001 --reason "reported missing" >"$T/susp2.json"
check_eq "suspend with the CA down: accepted, pending (exit 3)" 3 $?
check_eq "the answer shows 4 CA requests pending" "suspended 4" \
    "$(json "$T/susp2.json" '"%s %s" % (j["state"], j["pending_ca"])')"
check_eq "inventory: its certificates pending hold" pending_hold "$(cert_states 6001)"
check "the CA has not heard of it: the CRL does not list them" crl_has absent $SN
daemon_stop
check "the daemon starts again with the CA still down" daemon_start
check_eq "after the restart the inventory still says suspended, 4 pending" "suspended 4" \
    "$(field 6001 '"%s %s" % (j["state"], j["pending_ca"])')"
nginx_start
check "once the CA is back the journal drains: nothing pending" wait_settled 6001
check_eq "certificates on hold in the inventory" hold "$(cert_states 6001)"
check "and on the CA's CRL with certificateHold" crl_has CertificateHold $SN
check_grep "the history notes the CA's confirmation" '"event": *"ca_confirmed"' "$T/c.json"
daemon_stop
check "the daemon starts again" daemon_start
check_eq "the inventory says the same after the restart" "suspended 0 hold" \
    "$(field 6001 '"%s %s" % (j["state"], j["pending_ca"])') $(cert_states 6001)"

# --- lost while suspended: the same table, the profile's reason
cm officer --json retire 6001 --reason lost >"$T/lost.json"
check_eq "a suspended card reported lost (exit 0)" 0 $?
check_eq "inventory: lost, certificates revoked" "lost revoked" "$(field 6001 'j["state"]') $(cert_states 6001)"
check "the CRL turns the holds into keyCompromise (the employee profile's reason for lost)" crl_has KeyCompromise $SN
check_eq "reinstating a lost card: 409" 409 "$(post security /v1/cards/6001/reinstate '{}')"

# --- stolen is a state of its own now
vcard_insert 1 "$T/card1.state" --create --serial 6002 >/dev/null
R1=$(reader_name 1)
op=$(issue_temp "$R1" 6002 482916)
check_eq "a temporary card is issued" done "$(wait_op "$op")"
SN2=$(serials 6002)
check "its holder reports it stolen" cm officer retire 6002 --reason stolen
check_eq "inventory: stolen" stolen "$(field 6002 'j["state"]')"
check "revoked keyCompromise on the CRL" crl_has KeyCompromise $SN2
check_grep "cards list --state stolen finds it" '"serial": *"6002"' <(cm auditor --json cards list --state stolen)

# --- roles come from the lifecycle file
vcard_insert 2 "$T/card2.state" --create --serial 6003 >/dev/null
R2=$(reader_name 2)
op=$(issue_temp "$R2" 6003 482916)
check_eq "another temporary card is issued" done "$(wait_op "$op")"
daemon_stop
cp "$T/etc/lifecycle.conf" "$T/lifecycle.orig"
python3 - "$T/etc/lifecycle.conf" <<'EOF'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = re.sub(r'(name = "suspend";.*?roles = )\[[^\]]*\]', r'\1[ "security_officer" ]', s, flags=re.S)
open(p, "w").write(s)
EOF
check "the daemon starts with suspend for security officers only" daemon_start
check_eq "now the help desk may not suspend (403)" 403 "$(post helpdesk /v1/cards/6003/suspend '{"reason":"x"}')"
check_eq "the card is untouched" active "$(field 6003 'j["state"]')"
check_eq "the security officer still may" 200 "$(post security /v1/cards/6003/suspend '{"reason":"x"}')"

# --- a broken lifecycle file: check-config, cardmgrd -n, the daemon's start
sed -i '/name = "reinstate"/,/effect/{s/effect = "unhold"; //}' "$T/etc/lifecycle.conf"
line=$(grep -n 'name = "reinstate"' "$T/etc/lifecycle.conf" | cut -d: -f1)
cm auditor --json check-config >"$T/cc.json"
check_eq "check-config: invalid" False "$(json "$T/cc.json" 'j["valid"]')"
check_grep "naming the lifecycle file and line of a transition without its CA effect" \
    "lifecycle.conf:$line: transition reinstate: no effect" "$T/cc.json"
cp "$T/lifecycle.orig" "$T/etc/lifecycle.conf"
sed -i 's/"disposed" \]/"disposed", "blocked" ]/' "$T/etc/lifecycle.conf"
check_grep "an unreachable state is named with its line" \
    "lifecycle.conf:[0-9]+: state blocked is unreachable" <(cm auditor --json check-config)
sed -i 's/reason = "cessationOfOperation"; roles = \[ \]; }/reason = "ceasedOperation"; roles = [ ]; }/' "$T/etc/lifecycle.conf"
check_grep "an unknown reason too" 'transition rollback: unknown reason \\"ceasedOperation\\"' <(cm auditor --json check-config)
check_fails "cardmgrd -n refuses it" "$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf"
daemon_stop
"$BIN/cardmgrd" -c "$T/etc/cardmgrd.conf" >"$T/bad-start.log" 2>&1
check_eq "cardmgrd refuses to start with an invalid lifecycle (exit 1)" 1 $?
check_grep "saying where" 'lifecycle.conf:[0-9]+: state blocked is unreachable' "$T/bad-start.log"
cp "$T/lifecycle.orig" "$T/etc/lifecycle.conf"
check "with the file repaired it starts" daemon_start
check_grep "check-config is clean again" '"valid": *true' <(cm auditor --json check-config)

# --- audit: each transition, with its outcome
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "audit has the suspension" '"suspend.ok"' "$T/audit.json"
check_grep "the one recorded pending" '"suspend.pending"' "$T/audit.json"
check_grep "the reinstatement" '"reinstate.ok"' "$T/audit.json"
check_grep "and the refusals" '"suspend.refused"' "$T/audit.json"
check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
done_testing
