#!/bin/bash
# The daemon with a damaged station token (SoftHSM2's token.object left empty,
# as a kill inside the rewrite at a login leaves it; t_ca_token does the real
# kill): it still starts and says so in GET /v1/status, refuses what needs
# the token's keys, holds the CA journal instead of retrying it, and after
# the token is restored from its backup (provisioning/token-backup.sh) the
# journal drains, each revocation exactly once at the CA.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
tokbak() { bash "$TOP/provisioning/token-backup.sh" "$@"; }
status() { cm auditor --json status >"$T/st.json" 2>/dev/null; }

cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
vcard_insert 1 "$T/card1.state" --create --serial 5002 >/dev/null
R1=$(reader_name 1)
op=$(issue_temp "$R1" 5002 482916)
check_eq "a temporary card is issued" done "$(wait_op "$op")"
vcard_remove 1
serials=$(cm auditor --json cards show 5002 | python3 -c '
import json, sys
print(" ".join(c["serial"] for c in json.load(sys.stdin)["certificates"]))')
check_eq "with 2 certificates" 2 "$(echo "$serials" | wc -w)"

# keyd made its master key, key recovery key and audit key at its first
# start: the backup is taken after it, with the daemon stopped.
daemon_stop
check "token-backup.sh backs up keyd's token" tokbak backup "$T/ca.conf" "$T/tokbak"
daemon_start

# The CA is away: the revocations of a lost card are journaled.
ca_stop
cm officer retire 5002 --reason lost >/dev/null 2>&1
check_eq "retire (lost) with the CA down: 2 revocations pending" 2 \
    "$(cm auditor --json cards show 5002 | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_ca"])')"
status
check_grep "status shows the head of the journal and why it waits" 'CA unreachable' \
    <(json "$T/st.json" 'j["ca"]["head"]["last_error"]')

# --- the token is damaged while the daemon is stopped
daemon_stop
: >"$(ls "$T"/tokens/*/token.object | head -n 1)"
ca_start
check "the daemon starts with a damaged token" daemon_start
for ((i = 0; i < 80; i++)); do
	status && [ "$(json "$T/st.json" 'j["ca"]["held"]')" = True ] && break
	sleep 0.25
done
check_eq "status: degraded" degraded "$(json "$T/st.json" 'j["status"]')"
check_eq "status: the station token is damaged" damaged "$(json "$T/st.json" 'j["station_token"]["state"]')"
check_grep "and says what to do" 'damaged or missing: restore it from its backup' \
    <(json "$T/st.json" 'j["station_token"]["detail"]')
check_eq "status: the CA journal is held" True "$(json "$T/st.json" 'j["ca"]["held"]')"
check_grep "because of the token" "station token 'station' damaged or missing" \
    <(json "$T/st.json" 'j["ca"]["held_why"]')
check_eq "the 2 revocations are still pending" 2 "$(json "$T/st.json" 'j["ca"]["pending"]')"
head0=$(json "$T/st.json" 'j["ca"]["head"]["attempts"], j["ca"]["head"]["last_error"]')
check_grep "the head still shows the CA's last answer, not a token error" 'CA unreachable' <(echo "$head0")
check_eq "none reached the CA" 0 "$(grep -c 'revoked serial=' "$T/testca.log")"
vcard_insert 2 "$T/card2.state" --create --serial 5003 >/dev/null
R2=$(reader_name 2)
printf '482916\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 issue --reader "$R2" --holder E100 \
    --profile temporary 3<"$T/s.pin" >"$T/i2.json" 2>"$T/i2.err"
check_grep "an issuance is refused: token_damaged" 'token_damaged' "$T/i2.err"
check "the card was not touched (factory 9B key)" card_blank "$R2"
check "the daemon still answers" cm auditor status
# ca_retry_seconds is 1: a drain that retried would have counted attempts.
sleep 3
status
check_eq "the journal's head was not tried again (attempts, last error)" "$head0" \
    "$(json "$T/st.json" 'j["ca"]["head"]["attempts"], j["ca"]["head"]["last_error"]')"
check_eq "the CA journal was held once, said once" 1 \
    "$(grep -c 'CA journal held' "$T/cardmgrd.log")"

# --- restore from the backup: the journal drains, each revocation once
daemon_stop
check "token-backup.sh restores the token" tokbak restore "$T/ca.conf" "$T/tokbak"
check "the daemon starts" daemon_start
status
check_eq "status: ready" ready "$(json "$T/st.json" 'j["status"]')"
check_eq "status: the token is ok" ok "$(json "$T/st.json" 'j["station_token"]["state"]')"
for ((i = 0; i < 80; i++)); do
	status && [ "$(json "$T/st.json" 'j["ca"]["pending"]')" = 0 ] && break
	sleep 0.25
done
check_eq "the journal drained" 0 "$(json "$T/st.json" 'j["ca"]["pending"]')"
bad=""
for sn in $serials; do
	n=$(grep -c "revoked serial=$sn " "$T/testca.log")
	[ "$n" = 1 ] || bad="$bad $sn:$n"
done
check_eq "the CA revoked each certificate exactly once (its log)" "" "$bad"
curl -s http://ca.test:8080/crl | openssl crl -inform DER -noout -text >"$T/crl.txt"
check_eq "both are on the CA's CRL, keyCompromise" 2 "$(grep -c 'Key Compromise' "$T/crl.txt")"
op=$(issue_temp "$R2" 5003 482916)
check_eq "issuance works again" done "$(wait_op "$op")"
done_testing
