#!/bin/bash
# Centrally revoked cards: the CA operator (a CMP rr signed with the CA
# operator's own identity, not through this station's journal) revokes,
# holds and releases certificates of cards this station issued; `cardmgr crl
# check` (POST /v1/crl/check) folds the CA's CRL into the inventory: the
# certificates' status and reason follow, the card runs the transition
# lifecycle.conf's crl_reasons names, the history and audit log say so, a
# second run changes nothing, a restart keeps it. A forged or unparsable
# CRL is refused with a clear error and changes nothing. A certificate the
# CA issued to someone else is held by file and revoked by serial through
# this station's CA link (`cardmgr cert hold|revoke`); the inventory gets a
# record of it. With crl_check_seconds = 1 the background check does the
# same with no one asking. Effects are read through the CA's own CRL (curl +
# openssl crl) and the inventory after a daemon restart.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

# ca_rr SERIAL REASON: the CA operator revokes (hold: 6, release: 8) the
# certificate with that serial, from the CA's own index of what it issued.
ca_rr() {
	local f
	f=$(ls "$PKI/issued" | grep -ix "$1.der") || return 1
	openssl x509 -inform DER -in "$PKI/issued/$f" -out "$T/rr.pem" || return 1
	openssl cmp -cmd rr -server 127.0.0.1:8080 -path cmp -cert "$PKI/admin.crt" \
	    -key "$PKI/admin.key" -oldcert "$T/rr.pem" -revreason "$2" \
	    -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" >"$T/rr.log" 2>&1
}
status_of() {	# card serial: "status:reason" of its certificate sn
	field "$1" '[ "%s:%s" % (c["status_name"], c.get("reason", "")) for c in j["certificates"] if c["serial"] == "'"$2"'" ][0]'
}

# --- two cards of this station
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 7001 >/dev/null
op=$(issue_temp "$R" 7001 482916)
check_eq "a card is issued" done "$(wait_op "$op")"
vcard_insert 1 "$T/card1.state" --create --serial 7002 >/dev/null
cm officer holders add --id E200 --name "John Roe" --email john@example.com >/dev/null
printf '461937\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$(reader_name 1)" --holder E200 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "an employee card is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
SN1=$(serials 7001) SN2=$(serials 7002)
K1=${SN1%% *} H2=${SN2%% *}

# --- nothing revoked at the CA: the check changes nothing
cm security --json crl check >"$T/chk0.json"
check_eq "a check with nothing revoked at the CA changes nothing" 0 "$(json "$T/chk0.json" 'j["certificates_changed"]')"

# --- the CA operator revokes a certificate of 7001 (keyCompromise)
check "the CA operator revokes one of 7001's certificates" ca_rr "$K1" 1
check "the CA's CRL lists it keyCompromise" crl_has KeyCompromise "$K1"
check_eq "the inventory does not know yet" "active valid:0" "$(field 7001 'j["state"]') $(status_of 7001 "$K1")"
check_eq "a badge officer may not run the check (403)" 403 "$(post officer /v1/crl/check '{}')"
cm security --json crl check >"$T/chk1.json"
check_eq "the security officer's check: exit 0" 0 $?
check_eq "it changed one certificate, card 7001 ran ca_compromised" "1 7001 ca_compromised lost" \
    "$(json "$T/chk1.json" '"%s %s %s %s" % (j["certificates_changed"], j["cards"][0]["card"], j["cards"][0]["transition"], j["cards"][0]["state"])')"
check_eq "inventory: 7001 lost, the certificate revoked keyCompromise (1)" "lost revoked:1" \
    "$(field 7001 'j["state"]') $(status_of 7001 "$K1")"
check_grep "its history says the CA revoked it" "certificate $K1 revoked at the CA \\(CRL reason keyCompromise\\)" "$T/c.json"
check_grep "and names the transition" '"event": *"ca_compromised"' "$T/c.json"
check "ca_compromised revokes its other certificates through this station's journal" wait_settled 7001
check_eq "every certificate of the lost card revoked in the inventory" revoked "$(cert_states 7001)"
check "and on the CA's CRL, all keyCompromise" crl_has KeyCompromise $SN1
check_eq "7002 untouched" "active valid" "$(field 7002 'j["state"]') $(cert_states 7002)"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the audit log has it" '"crl_check.ok"' "$T/audit.json"
check_grep "for card 7001" "certificate\\(s\\) $K1 revoked at the CA" "$T/audit.json"

# --- idempotent: a second run, a restart
card_json 7001; cp "$T/c.json" "$T/before.json"
cm security --json crl check >"$T/chk2.json"
check_eq "a second run changes nothing" "0 0" "$(json "$T/chk2.json" '"%s %s" % (j["certificates_changed"], len(j["cards"]))')"
card_json 7001
check "the card record and history are the same" cmp -s "$T/before.json" "$T/c.json"
daemon_stop
check "the daemon starts again" daemon_start
check_eq "after the restart: lost, revoked keyCompromise" "lost revoked:1" "$(field 7001 'j["state"]') $(status_of 7001 "$K1")"
cm auditor --json crl check >"$T/chk3.json"
check_eq "an auditor's run after the restart changes nothing" 0 "$(json "$T/chk3.json" 'j["certificates_changed"]')"

# --- a hold at the CA, then its release
check "the CA operator holds one of 7002's certificates" ca_rr "$H2" 6
check "the CRL lists it certificateHold" crl_has CertificateHold "$H2"
cm security --json crl check >"$T/chk4.json"
check_eq "7002: suspended, the certificate on hold" "suspended hold:6" "$(field 7002 'j["state"]') $(status_of 7002 "$H2")"
check_grep "through ca_hold" '"event": *"ca_hold"' "$T/c.json"
check "the CA operator releases the hold" ca_rr "$H2" 8
check "the CRL no longer lists it" crl_has absent "$H2"
cm security --json crl check >"$T/chk5.json"
check_eq "7002: active again, the certificate valid" "active valid:0" "$(field 7002 'j["state"]') $(status_of 7002 "$H2")"
check_grep "through ca_release" '"event": *"ca_release"' "$T/c.json"

# --- a forged or unparsable CRL: refused, nothing changes
check "the CA operator holds it again" ca_rr "$H2" 6
card_json 7002; cp "$T/c.json" "$T/before.json"
ca_stop; ca_start --fault crl-forged
cm security --json crl check >"$T/chk6.json" 2>"$T/err6"
check_eq "a CRL signed by an untrusted key: refused (exit 1)" 1 $?
check_grep "saying why" 'REJECTED: CRL signature not trusted' "$T/err6"
card_json 7002
check "7002 unchanged (the forged CRL lists the hold)" cmp -s "$T/before.json" "$T/c.json"
ca_stop; ca_start --fault crl-garbage
cm security --json crl check >"$T/chk7.json" 2>"$T/err7"
check_eq "an unparsable CRL: refused (exit 1)" 1 $?
check_grep "saying why" 'CRL malformed' "$T/err7"
card_json 7002
check "7002 unchanged" cmp -s "$T/before.json" "$T/c.json"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the refusals are audited" '"crl_check.refused"' "$T/audit.json"
ca_stop; ca_start
cm security --json crl check >"$T/chk8.json"
check_eq "with the real CRL back the hold is taken" "suspended hold:6" "$(field 7002 'j["state"]') $(status_of 7002 "$H2")"
cm security --json reinstate 7002 >"$T/rein.json"
check_eq "the station itself reinstates 7002 (its own journal, exit 0)" "0 active" "$? $(json "$T/rein.json" 'j["state"]')"
cm security --json crl check >"$T/chk8b.json"
check_eq "the CRL check then agrees with the station's own change" "0 active valid:0" \
    "$(json "$T/chk8b.json" 'j["certificates_changed"]') $(field 7002 'j["state"]') $(status_of 7002 "$H2")"

# --- a certificate this station never issued: held by file, revoked by serial
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/foreign.key" \
    -subj "/O=Test/CN=Elsewhere" -out "$T/foreign.csr" 2>/dev/null
openssl cmp -cmd p10cr -server 127.0.0.1:8080 -path cmp -cert "$PKI/admin.crt" -key "$PKI/admin.key" \
    -csr "$T/foreign.csr" -certout "$T/foreign.crt" -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" \
    >"$T/p10.log" 2>&1
chmod 644 "$T/foreign.crt"	# the officer's CLI reads it
check "the CA issues a certificate to someone else (the CA operator's request)" test -s "$T/foreign.crt"
FS=$(openssl x509 -in "$T/foreign.crt" -noout -serial | cut -d= -f2); fs=${FS,,}
check_eq "by serial alone, unknown to the station: 404" 404 \
    "$(post security "/v1/certificates/$FS/revoke" '{"reason":"keyCompromise"}')"
check_grep "saying to give the certificate" 'give the certificate itself' "$T/post.json"
check_eq "a badge officer may not (403)" 403 "$(post officer "/v1/certificates/$FS/hold" '{}')"
check_eq "a certificate whose serial is not the path's: 400" 400 \
    "$(post security /v1/certificates/0abc/hold "{\"cert\":\"$(openssl x509 -in "$T/foreign.crt" -outform DER | base64 -w0)\"}")"
check_eq "nothing recorded for it" none "$(card_state "x-$fs")"
cm security --json cert hold --cert "$T/foreign.crt" --note "reported by its owner" >"$T/fh.json"
check_eq "the security officer holds it by file (exit 0: the CA confirmed)" 0 $?
check "the CA's CRL lists it certificateHold" crl_has CertificateHold "$FS"
check_eq "the inventory has a record: suspended, held" "suspended hold:6" "$(field "x-$fs" 'j["state"]') $(status_of "x-$fs" "$fs")"
cm security --json cert revoke --serial "$FS" --reason affiliationChanged >"$T/fr.json"
check_eq "then revokes it by serial (exit 0)" 0 $?
check "the CA's CRL lists it affiliationChanged" crl_has AffiliationChanged "$FS"
check_eq "inventory: retired, revoked affiliationChanged (3)" "retired revoked:3" "$(field "x-$fs" 'j["state"]') $(status_of "x-$fs" "$fs")"
check_grep "its history names the officer's note" 'reason: reported by its owner' "$T/c.json"
check_eq "revoking it again: 409" 409 "$(post security "/v1/certificates/$fs/revoke" '{"reason":"keyCompromise"}')"
check_eq "a certificate of this station's card: 409 (its card's lifecycle decides)" 409 \
    "$(post security "/v1/certificates/${SN2##* }/revoke" '{"reason":"keyCompromise"}')"
check "and the CRL does not list it" crl_has absent "${SN2##* }"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the audit log has the hold and the revocation" '"cert_hold.ok".*|"cert_revoke.ok"' "$T/audit.json"
daemon_stop
check "the daemon starts again" daemon_start
check_eq "after a restart: retired, revoked" "retired revoked:3" "$(field "x-$fs" 'j["state"]') $(status_of "x-$fs" "$fs")"
cm security --json crl check >"$T/chk9.json"
check_eq "the CRL check agrees: nothing to change" 0 "$(json "$T/chk9.json" 'j["certificates_changed"]')"

# --- the periodic check (crl_check_seconds): no one asks, the card follows
daemon_stop
echo 'crl_check_seconds = 1;' >>"$T/etc/cardmgrd.conf"
check "the daemon starts with a check every second" daemon_start
check "the CA operator revokes a certificate of 7002 (keyCompromise)" ca_rr "$H2" 1
for ((i = 0; i < 80; i++)); do
	[ "$(card_state 7002)" = lost ] && break
	sleep 0.25
done
check_eq "the background check makes 7002 lost, the certificate revoked" "lost revoked:1" \
    "$(field 7002 'j["state"]') $(status_of 7002 "$H2")"
check "and its other certificates go too" wait_settled 7002
check "all of them keyCompromise on the CA's CRL" crl_has KeyCompromise $SN2
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "audited as the scheduled check" '"actor": *"crl-check"' "$T/audit.json"
# --- a request the CA refuses for good: 7003 suspended here, one of its
# certificates revoked by the CA operator meanwhile, then reinstated here:
# the CA refuses that release (the certificate is not on hold). The card is
# not left pending; the CRL check then brings the revocation in. (No
# background check: it would take the revocation before the reinstatement.)
daemon_stop
sed -i '/^crl_check_seconds = 1;$/d' "$T/etc/cardmgrd.conf"
check "the daemon starts without the periodic check" daemon_start
vcard_remove 0
vcard_insert 0 "$T/card3.state" --create --serial 7003 >/dev/null
check_eq "a third card is issued" done "$(wait_op "$(issue_temp "$R" 7003 482916)")"
H3=$(serials 7003); H3=${H3%% *}
cm security --json suspend 7003 --reason "left at home" >/dev/null
check_eq "7003 suspended here, its holds confirmed" "suspended 0 hold:6" \
    "$(field 7003 'j["state"]') $(field 7003 'j["pending_ca"]') $(status_of 7003 "$H3")"
check "the CA operator revokes one of them meanwhile (keyCompromise)" ca_rr "$H3" 1
cm security --json reinstate 7003 >"$T/rein2.json" 2>"$T/rein2.err"
for ((i = 0; i < 40; i++)); do [ "$(field 7003 'j["pending_ca"]')" = 0 ] && break; sleep 0.25; done
check_eq "reinstated here: active, nothing left pending (the refusal is an answer)" "active 0" \
    "$(field 7003 'j["state"]') $(field 7003 'j["pending_ca"]')"
check_eq "the refused release leaves that certificate held, as the station last knew it" "hold:6" \
    "$(status_of 7003 "$H3")"
check_grep "the card's history has the CA's refusal, naming it" \
    "\"event\": *\"ca_refused\", *\"actor\": *\"ca\", *\"detail\": *\"certificate $H3: " "$T/c.json"
check_grep "and the log" "CA refused request [0-9]+: certificate $H3" "$T/cardmgrd.log"
cm security --json crl check >"$T/chk9.json"
check_eq "the CRL check brings the revocation in: 7003 lost, revoked keyCompromise" "lost revoked:1" \
    "$(field 7003 'j["state"]') $(status_of 7003 "$H3")"

check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
done_testing
