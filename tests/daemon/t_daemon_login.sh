#!/bin/bash
# Operator login with a card at the kiosk (docs/api.md, "Operator sessions"),
# end to end on one station: an operator card the station itself issued logs
# in over the kiosk listener (PIN on the card, a challenge signed by its 9A
# key, the chain to the test CA, the operator map entry `cardmgr operator
# add` wrote) and gets its roles; the card's own PIN counter is read back
# with yubico-piv-tool; a certificate from elsewhere, or the operator's
# certificate copied onto another card, is refused; the session ends when
# the card leaves, on logout and after the idle timeout; cookie attributes,
# CSRF and Origin refusals change nothing; failed logins are rate limited;
# and the authorization matrix (tests/daemon/authz_matrix.py) runs every
# endpoint of docs/api.yaml as every role, the kiosk, no session, a dead
# session and a real card session.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

PORT=8410
K() { python3 "$TOP/tests/daemon/kiosk.py" $PORT "$@"; }
R0=$(reader_name 0) R1=$(reader_name 1)
# login READER PIN [SESSION_FILE]: the answer in $T/login.json
login() { printf '%s\n' "$2" | K login "$1" ${3:+"$3"} >"$T/login.json"; }
lj() { json "$T/login.json" "$1"; }
# req ARGS...: kiosk.py req; the answer in $T/req.json
req() { K req "$@" >"$T/req.json"; }
rj() { json "$T/req.json" "$1"; }
tries() {	# reader -> PIN tries left, as the card says (yubico-piv-tool)
	yubico-piv-tool -r "$1" -a status 2>/dev/null |
	    sed -n 's/.*PIN tries left:[[:space:]]*\([0-9]*\).*/\1/p'
}

# --- an operator card, issued by the station itself
cm officer holders add --id OP1 --name "Olga Operator" >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 6001 >/dev/null
printf '461937\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R0" --holder OP1 --profile temporary \
    3<"$T/s" >"$T/issue.json"
check_eq "the operator's card is issued by the station" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
ypt -a read-certificate -s 9a >"$T/op.crt" 2>/dev/null
check "its 9a certificate chains to the test root" \
    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$T/op.crt"

# --- not yet an operator
login "$R0" 461937
check_eq "a trusted card in no operator record: 403 not_an_operator" "403 not_an_operator" \
    "$(lj 'j["status"], j["body"]["error"]' | tr -d "(),'")"
check_eq "no cookie is set" None "$(lj 'j["set_cookie"]')"
check_eq "and no PIN try was spent (yubico-piv-tool)" 3 "$(tries "$R0")"

# --- the bootstrap: root adds the card as an operator, the daemon restarts
check_fails "operator add refuses the holder role" "$BIN/cardmgr" operator add --cert "$T/op.crt" \
    --name "Olga Operator" --roles holder --operators "$T/etc/operators.conf"
check "operator add writes the card's entry into the operator map" "$BIN/cardmgr" operator add \
    --cert "$T/op.crt" --name "Olga Operator" --roles badge_officer,auditor \
    --operators "$T/etc/operators.conf"
check_grep "the entry names the certificate's SHA-256" \
    "card_sha256 = \"$(openssl x509 -in "$T/op.crt" -outform DER | sha256sum | cut -c1-64)\"" \
    "$T/etc/operators.conf"
check_fails "the same card twice is refused" "$BIN/cardmgr" operator add --cert "$T/op.crt" \
    --name "Olga Again" --roles auditor --operators "$T/etc/operators.conf"
cp "$T/etc/cardmgrd.conf" "$T/bad.conf"
echo 'attempt_limit = 0;' >>"$T/bad.conf"
chmod 644 "$T/bad.conf"
check_grep "cardmgrd -n names a bad session setting by file:line" 'bad.conf:[0-9]+: attempt_limit must be 1..32' \
    <("$BIN/cardmgrd" -n -c "$T/bad.conf" 2>&1)
cat >>"$T/etc/cardmgrd.conf" <<CONF
session_idle_seconds = 15;
attempt_limit = 4;
attempt_window_seconds = 600;
CONF
daemon_stop
check "the daemon starts with the new operator" daemon_start

# --- wrong PIN, then the right one
login "$R0" 000000
check_eq "a wrong PIN: 401 pin_wrong, tries_left 2" "401 pin_wrong 2" \
    "$(lj '" ".join(str(x) for x in (j["status"], j["body"]["error"], j["body"]["tries_left"]))')"
check_eq "the card's own counter agrees (yubico-piv-tool)" 2 "$(tries "$R0")"
login "$R0" 461937 "$T/sess.json"
check_eq "the right PIN: 200, the operator and the roles of the record" \
    "200 Olga Operator badge_officer,auditor" \
    "$(lj '"%d %s %s" % (j["status"], j["body"]["operator"], ",".join(j["body"]["roles"]))')"
check_eq "idle_timeout and reader in the answer" "15 $R0" "$(lj '"%d %s" % (j["body"]["idle_timeout"], j["body"]["reader"])')"
check_eq "the card's counter is back to 3" 3 "$(tries "$R0")"
sc=$(lj 'j["set_cookie"]')
check "Set-Cookie: cm_session=<43 characters>; HttpOnly; SameSite=Strict; Path=/" \
    python3 -c 'import re,sys; sys.exit(not re.fullmatch(r"cm_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/", sys.argv[1]))' "$sc"
check_fails "the token is not in the body" grep -q "$(json "$T/sess.json" 'j["token"]')" <(lj 'json.dumps(j["body"])')
check_grep "the login is audited with the operator" '"login.ok"' <(cm auditor --json audit show --limit 1000)

# --- the session's roles
req GET /v1/session --session "$T/sess.json"
check_eq "GET /v1/session: the same operator" "200 Olga Operator" "$(rj '"%d %s" % (j["status"], j["body"]["operator"])')"
req GET /v1/session
check_eq "GET /v1/session without a cookie: 401 no_session" "401 no_session" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req GET "/v1/audit?limit=1" --session "$T/sess.json"
check_eq "the auditor role reads the audit log" 200 "$(rj 'j["status"]')"
req GET "/v1/audit?limit=1"
check_eq "the kiosk without a session may not" "403 forbidden" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req POST /v1/cards/NOSUCH/unblock/questions --session "$T/sess.json" --body "{\"reader\": \"$R1\"}"
check_eq "a role the record does not give (helpdesk): 403 forbidden" "403 forbidden" \
    "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"

# --- CSRF and Origin: refused, nothing changed
# A fresh session: the idle timeout is short and a loaded machine is slow.
login "$R0" 461937 "$T/sess.json"
holder_count() { cm auditor --json holders list --query CSRF | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["holders"]))'; }
add='{"id": "CSRF1", "name": "CSRF Test"}'
req POST /v1/holders --session "$T/sess.json" --no-csrf --body "$add"
check_eq "POST without X-CSRF-Token: 403 csrf" "403 csrf" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req POST /v1/holders --session "$T/sess.json" --csrf wrongwrongwrong --body "$add"
check_eq "POST with another token: 403 csrf" "403 csrf" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req POST /v1/holders --session "$T/sess.json" --origin http://evil.test --body "$add"
check_eq "POST from a foreign Origin: 403 origin" "403 origin" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req POST /v1/holders --origin http://127.0.0.1:1 --body "$add"
check_eq "a foreign Origin without a session too" "403 origin" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
check_eq "the inventory has no such holder (read over the UNIX socket)" 0 "$(holder_count)"
req POST /v1/holders --session "$T/sess.json" --origin "http://127.0.0.1:$PORT" --body "$add"
check_eq "with the token and the station's own Origin the officer adds it: 201" 201 "$(rj 'j["status"]')"
check_eq "now the inventory has it" 1 "$(holder_count)"
check_grep "the holder was added by the card's operator" '"actor": *"Olga Operator"' \
    <(cm auditor --json audit show --limit 1000 | python3 -c 'import json,sys; [print(json.dumps(e)) for e in json.load(sys.stdin)["entries"] if e.get("ref") == "CSRF1"]')

# --- the authorization matrix, from docs/api.yaml and the floor table
# The actors run at once (each one's answers do not depend on the others'):
# the uids on the UNIX socket, the kiosk and a dead cookie on TCP, then a
# fresh card session (the others outlast the idle timeout otherwise).
MX=("$TOP/tests/daemon/authz_matrix.py" "$TOP")
pids=()
for who in officer:badge_officer helpdesk:helpdesk security:security_officer \
    auditor:auditor admin:administrator nobody:; do
	# The system python: the uids cannot read a python under /root.
	as_${who%%:*} /usr/bin/python3 "${MX[@]}" --kind unix --socket "$T/run/api.sock" \
	    --roles "${who#*:}" >"$T/mx-${who%%:*}.out" 2>&1 &
	pids+=($!)
done
python3 "${MX[@]}" --kind kiosk --port $PORT >"$T/mx-kiosk.out" 2>&1 &
pids+=($!)
python3 "${MX[@]}" --kind invalid --port $PORT >"$T/mx-invalid.out" 2>&1 &
pids+=($!)
login "$R0" 461937 "$T/sess.json"
python3 "${MX[@]}" --kind session --port $PORT --session "$T/sess.json" \
    --roles badge_officer,auditor >"$T/matrix.out" 2>&1
mrc=$?
i=0
for who in officer helpdesk security auditor admin nobody kiosk invalid; do
	wait "${pids[$i]}"
	rc=$?
	i=$((i + 1))
	grep -v '^ok  ' "$T/mx-$who.out" | sed 's/^/# /'
	if [ $rc = 0 ]; then ok "matrix: $who, every endpoint as the floor table says"
	else not_ok "matrix: $who"; fi
done
grep -v '^ok  ' "$T/matrix.out" | sed 's/^/# /'
if [ $mrc = 0 ]; then ok "matrix: the card session (badge_officer, auditor), logout last"
else not_ok "matrix: the card session"; fi
check_grep "the matrix covered every endpoint of docs/api.yaml" \
    "^$(grep -c '^      operationId:' "$TOP/docs/api.yaml") endpoints, 0 differ" "$T/matrix.out"
req GET /v1/session --session "$T/sess.json"
check_eq "after the matrix's logout the session is gone" "401 no_session" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"

# --- logout
login "$R0" 461937 "$T/sess.json"
req POST /v1/logout --session "$T/sess.json" --no-csrf --body '{}'
check_eq "logout without the CSRF token: 403 csrf" "403 csrf" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
req POST /v1/logout --session "$T/sess.json" --body '{}'
check_eq "logout: 200, the cookie cleared" "200 True" \
    "$(rj '"%d %s" % (j["status"], "Max-Age=0" in j["set_cookie"] and "HttpOnly" in j["set_cookie"])')"
req GET /v1/session --session "$T/sess.json"
check_eq "the old cookie: 401 no_session, and the cookie cleared" "401 no_session True" \
    "$(rj '"%d %s %s" % (j["status"], j["body"]["error"], "Max-Age=0" in (j["set_cookie"] or ""))')"
req GET /v1/holders --session "$T/sess.json"
check_eq "and any request with it: 401" 401 "$(rj 'j["status"]')"

# --- the card leaves its reader
login "$R0" 461937 "$T/sess.json"
req GET /v1/session --session "$T/sess.json"
check_eq "logged in again" 200 "$(rj 'j["status"]')"
vcard_remove 0
req GET /v1/session --session "$T/sess.json"
check_eq "card pulled: the next request is 401 no_session" "401 no_session" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"
vcard_insert 0 "$T/card0.state" >/dev/null
req GET /v1/session --session "$T/sess.json"
check_eq "and putting it back does not revive the session" 401 "$(rj 'j["status"]')"
check_grep "the engine says why it ended" "ended: the card left its reader" "$T/cardmgrd.log"

# --- idle timeout (15 s configured: a loaded machine took over 6 s between
# two requests of one check, and the session ended under the CSRF checks)
login "$R0" 461937 "$T/sess.json"
check_eq "logged in once more" 200 "$(lj 'j["status"]')"
sleep 16	# past the configured idle timeout: waiting for it, not measuring
req GET /v1/session --session "$T/sess.json"
check_eq "idle past the timeout: 401 no_session" "401 no_session" "$(rj '"%d %s" % (j["status"], j["body"]["error"])')"

# --- a card the station did not vouch for
vcard_insert 1 "$T/card1.state" --create --serial 6002 >/dev/null
yubico-piv-tool -r "$R1" -a generate -s 9a -A ECCP256 -o "$T/rogue.pub" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue-ca.key" \
    -out "$T/rogue-ca.crt" -subj /CN=Rogue-CA -days 2 2>/dev/null
openssl req -new -key "$T/rogue-ca.key" -subj "/CN=Olga Operator" 2>/dev/null |
    openssl x509 -req -CA "$T/rogue-ca.crt" -CAkey "$T/rogue-ca.key" -force_pubkey "$T/rogue.pub" \
    -days 1 -set_serial 7 -out "$T/rogue.crt" 2>/dev/null
yubico-piv-tool -r "$R1" -a import-certificate -s 9a -i "$T/rogue.crt" >/dev/null 2>&1
login "$R1" 123456
check_eq "a card whose certificate is from another CA: 403 untrusted_card" "403 untrusted_card" \
    "$(lj '"%d %s" % (j["status"], j["body"]["error"])')"
check_eq "no PIN try spent on it" 3 "$(tries "$R1")"
# The operator's own certificate copied onto that card: chain and record
# are fine, the card cannot sign with the certificate's key.
yubico-piv-tool -r "$R1" -a import-certificate -s 9a -i "$T/op.crt" >/dev/null 2>&1
login "$R1" 123456
check_eq "the operator's certificate on another card: 403 untrusted_card (the challenge)" \
    "403 untrusted_card True" "$(lj '"%d %s %s" % (j["status"], j["body"]["error"], "challenge" in j["body"]["message"])')"
check_eq "no cookie for it" None "$(lj 'j["set_cookie"]')"
# Failed logins per card: attempt_limit = 4 in the window.
login "$R1" 123456
login "$R1" 123456
check_eq "the 4th failure is still answered" 403 "$(lj 'j["status"]')"
login "$R1" 123456
check_eq "the 5th attempt: 429 rate_limited with retry_after" "429 rate_limited True" \
    "$(lj '"%d %s %s" % (j["status"], j["body"]["error"], 0 < j["body"]["retry_after"] <= 600)')"
check_eq "the limited attempt spent no PIN try" 3 "$(tries "$R1")"
login "$R0" 461937
check_eq "the operator's own card is not limited by the other card" 200 "$(lj 'j["status"]')"

# --- a blocked PIN
login "$R0" 000000
login "$R0" 000000
check_eq "second wrong PIN: 1 try left" 1 "$(lj 'j["body"]["tries_left"]')"
login "$R0" 000000
check_eq "third: 423 pin_blocked" "423 pin_blocked" "$(lj '"%d %s" % (j["status"], j["body"]["error"])')"
check_eq "the card says blocked too" 0 "$(tries "$R0")"
# Four failures with this card in the window (one wrong PIN at the start,
# three here): a PIN change with it is limited too, before the card is asked.
printf '000000\n572814\n572814\n' >"$T/s"
cm nobody --json --secrets-fd 3 pin-change 6001 --reader "$R0" 3<"$T/s" >"$T/pc.json" 2>&1
check_grep "a PIN change with the same card: 429 rate_limited (the card's count)" 'rate_limited' "$T/pc.json"
check_fails "no PIN or token in the daemon's log" grep -qE "461937|$(json "$T/sess.json" 'j["token"]')" "$T/cardmgrd.log"

done_testing
