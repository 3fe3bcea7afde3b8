#!/bin/bash
# Replace with key recovery, end to end on virtual cards and the test CA.
# A holder had card A (retired), then card B; mail was encrypted to both
# cards' key management certificates with openssl. B is lost and replaced
# by a blank card C through `cardmgr replace`. Checked through other paths
# than the daemon's answer: OpenSC's PKCS#11 module decrypts both files on C
# (B's key in 9D, A's in retired slot 82 through the key history object),
# yubico-piv-tool reads C's slots, the test CA's CRL lists B's certificates
# with the profile's reason for lost (keyCompromise) and none of C's, the
# inventory says the same after a daemon restart. Refusals change nothing:
# a second replacement of B, a role the profile does not name, a reason
# that is none, and a profile that requires approvals for key recovery
# when no operator may approve (t_daemon_approve has the approvals).
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

R0=$(reader_name 0) R1=$(reader_name 1) R2=$(reader_name 2) R3=$(reader_name 3)
# issue_emp READER PIN: an employee card for E200 -> the final op state
issue_emp() {
	printf '%s\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' "$2" >"$T/s"
	cm officer --json --secrets-fd 3 issue --reader "$1" --holder E200 --profile employee \
	    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
	wait_op "$(json "$T/issue.json" 'j["operation"]')"
}
# replace_card CARD READER REASON PIN [WHO]: exit status; answer in $T/rep.json, stderr in $T/rep.err
replace_card() {
	printf '%s\n' "$4" >"$T/s.pin"
	cm "${5:-officer}" --json --secrets-fd 3 replace "$1" --reader "$2" --reason "$3" \
	    3<"$T/s.pin" >"$T/rep.json" 2>"$T/rep.err"
}
slot_cert() { yubico-piv-tool -r "$1" -a read-certificate -s "$2" 2>/dev/null; }
pubkey() { openssl x509 -noout -pubkey; }

cm officer holders add --id E200 --name "Rae Placement" --email rae@example.com >/dev/null

# --- card A, its key management certificate, then retired
vcard_insert 0 "$T/a.state" --create --serial 7001 >/dev/null
check_eq "card A is issued" done "$(issue_emp "$R0" 461937)"
slot_cert "$R0" 9d >"$T/a9d.pem"
head -c 190 /dev/urandom >"$T/m1"
openssl pkeyutl -encrypt -certin -inkey "$T/a9d.pem" -in "$T/m1" -out "$T/e1"
check "a file is encrypted to A's 9D certificate with openssl" test -s "$T/e1"
check "A is retired" cm officer retire 7001 --reason retire
vcard_remove 0

# --- card B, mail to its key, then B is lost (not in any reader)
vcard_insert 1 "$T/b.state" --create --serial 7002 >/dev/null
check_eq "card B is issued" done "$(issue_emp "$R1" 572814)"
slot_cert "$R1" 9d >"$T/b9d.pem"
slot_cert "$R1" 9a >"$T/b9a.pem"
head -c 190 /dev/urandom >"$T/m2"
openssl pkeyutl -encrypt -certin -inkey "$T/b9d.pem" -in "$T/m2" -out "$T/e2"
SNB=$(serials 7002)
check_eq "B has 4 certificates" 4 "$(wc -w <<<"$SNB")"
vcard_remove 1

# --- refusals before any card work: nothing changes
vcard_insert 2 "$T/c.state" --create --serial 7003 --trace "$T/c.trace" >/dev/null
sleep 1	# the reader watcher identifies every inserted card first
W0=$(grep -c '^>' "$T/c.trace")
card_json 7002; cp "$T/c.json" "$T/b.before"
l0=$(wc -l <"$T/nginx/access.log")
replace_card 7002 "$R2" lost 975310 helpdesk
check_eq "the help desk may not replace (employee profile: badge officer): exit 4" 4 $?
check_grep "the refusal names the profile" "profile does not let your roles" "$T/rep.err"
replace_card 7002 "$R2" misplaced 975310
check_eq "a reason that is none is a bad request (exit 1)" 1 $?
replace_card 7002 "$R2" lost 123456
check_eq "a PIN the profile refuses: exit 4 (422), before the card is touched" 4 $?
card_json 7002
check "B's record is unchanged" cmp -s "$T/b.before" "$T/c.json"
check "the card in the reader is still blank" card_blank "$R2"
check_eq "the CA was not asked" "$l0" "$(wc -l <"$T/nginx/access.log")"

# --- the replacement
W1=$(grep -c '^>' "$T/c.trace")
replace_card 7002 "$R2" lost 975310
check_eq "B is replaced by C: accepted (202, exit 3)" 3 $?
check_eq "the operation finishes" done "$(wait_op "$(json "$T/rep.json" 'j["operation"]')")"
check_eq "inventory: B lost, C active" "lost active" "$(field 7002 'j["state"]') $(field 7003 'j["state"]')"
check_eq "C belongs to the same holder and profile" "E200 employee" "$(field 7003 '"%s %s" % (j["holder"], j["profile"])')"
check_grep "C's history says what it replaces" '"event": *"replaces"' "$T/c.json"
SNC=$(serials 7003)
check_eq "C has 4 certificates of its own" 4 "$(wc -w <<<"$SNC")"
# The operation is done when the new card is; the CA journal drains next.
check "B's revocations reach the CA (nothing pending)" wait_settled 7002
check "the CRL lists B's 4 certificates as keyCompromise" crl_has KeyCompromise $SNB
check "and none of C's" crl_has absent $SNC

# --- the new card through stock clients
check_eq "9D on C holds B's key (yubico-piv-tool)" "$(pubkey <"$T/b9d.pem")" "$(slot_cert "$R2" 9d | pubkey)"
check "with a new certificate" test "$(slot_cert "$R2" 9d | openssl x509 -noout -serial)" != \
    "$(openssl x509 -noout -serial -in "$T/b9d.pem")"
check "9A on C is a new key" test "$(pubkey <"$T/b9a.pem")" != "$(slot_cert "$R2" 9a | pubkey)"
check_eq "retired slot 82 holds A's certificate" "$(openssl x509 -noout -fingerprint -in "$T/a9d.pem")" \
    "$(slot_cert "$R2" 82 | openssl x509 -noout -fingerprint)"
check_eq "OpenSC decrypts the file encrypted to B on C (9D)" "$(msg_sha "$T/m2")" "$(p11_decrypted 975310 03 "$T/e2")"
check_eq "and the file encrypted to A (retired slot 82, via the key history)" "$(msg_sha "$T/m1")" \
    "$(p11_decrypted 975310 05 "$T/e1")"
check_grep "keyd recovered the escrowed keys (its log)" 'escrowed key of card [0-9a-f]{32} slot 9d: recovery done' "$T/cardmgrd.log"

# --- exactly once
card_json 7002; cp "$T/c.json" "$T/b.after"
replace_card 7002 "$R3" lost 975310
check_eq "replacing B again is refused (exit 1, 409)" 1 $?
check_grep "as already replaced" 'already replaced' "$T/rep.err"
card_json 7002
check "B's record is unchanged" cmp -s "$T/b.after" "$T/c.json"

# --- torn on the new card: where a replacement differs from an issuance,
# the import of a recovered key into retired slot 82 (the card takes it, the
# answer is lost). The new card rolls back, the old one is as it was.
P=$(grep '^>' "$T/c.trace" | grep -n 'ins=FE p1=.. p2=82' | head -n 1 | cut -d: -f1)
check "the reference trace shows the import into 82 (APDU ${P:-none})" test -n "$P"
card_json 7003; cp "$T/c.json" "$T/c.before"
vcard_insert 3 "$T/d.state" --create --serial 7004 --tear-after $((W0 + P - W1)) >/dev/null
sleep 1
replace_card 7003 "$R3" damaged 864209
op=$(json "$T/rep.json" 'j["operation"]')
check_eq "torn at the import into 82: the replacement fails" failed "$(wait_op "$op")"
vcard_remove 3
vcard_insert 3 "$T/d.state" >/dev/null
for ((i = 0; i < 40; i++)); do [ "$(card_state 7004)" != issuing ] && break; sleep 0.25; done
check_eq "the torn card is rolled back when it comes back" "retired rolled_back" \
    "$(card_state 7004) $(cm officer --json op show "$op" >"$T/op.json"; json "$T/op.json" 'j["state"]')"
check "and wiped to factory state" card_blank "$R3"
card_json 7003
check "the old card's record is unchanged" cmp -s "$T/c.before" "$T/c.json"
check "its certificates are not on the CRL" crl_has absent $SNC
vcard_remove 3

# --- killed between the activating commit and the CA drain: after the
# restart the old card's revocations go out once
daemon_stop
CARDMGRD_CRASH_AT=replace:committed daemon_start
vcard_insert 3 "$T/e.state" --create --serial 7005 >/dev/null
sleep 1
replace_card 7003 "$R3" damaged 864209
for ((i = 0; i < 240; i++)); do kill -0 "$(cat "$T/pids/cardmgrd")" 2>/dev/null || break; sleep 0.25; done
check "the engine was killed after the commit (the station stopped)" test "$i" -lt 240
rm -f "$T/pids/cardmgrd"
l0=$(wc -l <"$T/nginx/access.log")
check "the daemon starts again" daemon_start
check "the journaled revocations drain" wait_settled 7003
check_eq "after the restart: B lost, C damaged, E active, nothing pending" "lost damaged active 0" \
    "$(field 7002 'j["state"]') $(field 7003 'j["state"]') $(field 7005 'j["state"]') $(field 7003 'j["pending_ca"]')"
check_eq "C's certificates revoked in the inventory" revoked "$(cert_states 7003)"
check "the CRL lists C's 4 certificates as cessationOfOperation (damaged)" crl_has CessationOfOperation $SNC
check_eq "the CA was asked once per certificate after the restart" 4 \
    "$(tail -n +$((l0 + 1)) "$T/nginx/access.log" | grep -c '"POST /cmp ')"
check "B's certificates are still keyCompromise" crl_has KeyCompromise $SNB
check_eq "9D on E holds B's key too" "$(pubkey <"$T/b9d.pem")" "$(slot_cert "$R3" 9d | pubkey)"

# --- a temporary card: E left at home (not in any reader), C put away
yubico-piv-tool -r "$R3" -a read-object --id 0x5fc102 -f binary -o "$T/e.chuid" >/dev/null 2>&1
vcard_remove 3
vcard_remove 2
SNE=$(serials 7005)
l0=$(wc -l <"$T/nginx/access.log")
vcard_insert 0 "$T/t1.state" --create --serial 7006 >/dev/null
printf '531864\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 temporary 7005 --reader "$R0" 3<"$T/s.pin" >"$T/tmp.json" 2>"$T/tmp.err"
check_eq "a temporary card for E: accepted (exit 3)" 3 $?
check_eq "the operation finishes" done "$(wait_op "$(json "$T/tmp.json" 'j["operation"]')")"
check_eq "inventory: E suspended, the new card temporary" "suspended temporary" \
    "$(field 7005 'j["state"]') $(field 7006 'j["state"]')"
check_eq "its end is the temporary profile's 7 days" 7 \
    "$(field 7006 'round((j["expires"] - j["created"]) / 86400)')"
check "E's holds reach the CA (nothing pending)" wait_settled 7005
check "E's certificates are on hold at the CA" crl_has CertificateHold $SNE
SNT1=$(serials 7006)
check "the temporary card's are not" crl_has absent $SNT1
check_eq "9D on the temporary card holds the recovered key" "$(pubkey <"$T/b9d.pem")" "$(slot_cert "$R0" 9d | pubkey)"
check_eq "OpenSC decrypts the mail on the temporary card" "$(msg_sha "$T/m2")" "$(p11_decrypted 531864 03 "$T/e2")"
cm officer --secrets-fd 3 temporary 7005 --reader "$R1" 3<"$T/s.pin" 2>"$T/tmp.err"
check_eq "a second temporary card while E is held: refused (exit 1, 409)" 1 $?
check_grep "by the lifecycle" 'lifecycle does not allow forgotten from state suspended' "$T/tmp.err"

# --- the holder is back: returned through the permanent card's name
cm officer --json return 7005 --reason "holder back" >"$T/ret.json"
check_eq "return (exit 0: the CA confirmed)" 0 $?
check_eq "inventory: E active, the temporary card returned" "active returned" \
    "$(field 7005 'j["state"]') $(field 7006 'j["state"]')"
check "E's certificates are off the CRL (removeFromCRL)" crl_has absent $SNE
check "the temporary card's are revoked (cessationOfOperation)" crl_has CessationOfOperation $SNT1
check_eq "returning again: 404, no loan" 404 "$(post officer /v1/cards/7005/return '{}')"
vcard_remove 0
wait_state() {	# serial state: until the inventory says so
	for ((i = 0; i < 40; i++)); do [ "$(field "$1" 'j["state"]')" = "$2" ] && return 0; sleep 0.25; done
	return 1
}

# --- a loan ended by presenting the permanent card at any reader: E signs a
# fresh challenge with its 9E key (no PIN), checked against the inventory's
# 9E certificate. A clone (E's CHUID on another card, its own 9E key) does not
# end it.
vcard_insert 1 "$T/tp.state" --create --serial 7009 >/dev/null
cm officer --json --secrets-fd 3 temporary 7005 --reader "$R1" 3<"$T/s.pin" >"$T/tmp.json" 2>/dev/null
check_eq "a temporary card, to be ended by presenting E" done "$(wait_op "$(json "$T/tmp.json" 'j["operation"]')")"
SNTP=$(serials 7009)
check "E's holds reach the CA" wait_settled 7005
vcard_remove 1
vcard_insert_raw 2 "$T/clone.state" --create --serial 7099 >/dev/null
yubico-piv-tool -r "$R2" -a write-object --id 0x5fc102 -f binary -i "$T/e.chuid" >/dev/null 2>&1 &&
    yubico-piv-tool -r "$R2" -a generate -s 9e -A ECCP256 >/dev/null 2>&1
check_eq "a clone: E's CHUID on another card, with a 9E key of its own" "$(xxd -p "$T/e.chuid" | tr -d '\n')" \
    "$(yubico-piv-tool -r "$R2" -a read-object --id 0x5fc102 -f hex 2>/dev/null | tr -d '\n' | tr 'A-F' 'a-f')"
vcard_remove 2
g0=$(wc -l <"$T/cardmgrd.log")
vcard_insert_raw 2 "$T/clone.state" >/dev/null
for ((i = 0; i < 40; i++)); do
	tail -n +$((g0 + 1)) "$T/cardmgrd.log" | grep -q 'card 7005 presented' && break
	sleep 0.25
done
tail -n +$((g0 + 1)) "$T/cardmgrd.log" >"$T/g.log"
check_grep "the clone presented: the watcher says the loan goes on, and why" \
    "card 7005 presented at '$R2': its loan \(temporary card 7009\) goes on: .*does not verify" "$T/g.log"
check_eq "inventory: E still suspended, the temporary card still out" "suspended temporary" \
    "$(field 7005 'j["state"]') $(field 7009 'j["state"]')"
check "E's certificates still on hold" crl_has CertificateHold $SNE
vcard_remove 2
vcard_insert_raw 3 "$T/e.state" >/dev/null
check "E itself presented: the loan ends" wait_state 7009 returned
check "and its CA work drains" wait_settled 7005
check_eq "inventory: E active, the temporary card returned" "active returned" \
    "$(field 7005 'j["state"]') $(field 7009 'j["state"]')"
check "E's certificates are off the CRL" crl_has absent $SNE
check "the temporary card's are revoked (cessationOfOperation)" crl_has CessationOfOperation $SNTP
card_json 7009
python3 -c 'import json,sys; [print(h.get("actor"), h.get("detail")) for h in json.load(open(sys.argv[1]))["history"]]' \
    "$T/c.json" >"$T/hist.txt"
check_grep "its history says E was presented, by the engine" '^engine permanent card 7005 presented at' "$T/hist.txt"
vcard_remove 3

# --- a second loan, ended by the scheduler when the clock passes its end
vcard_insert 1 "$T/t2.state" --create --serial 7007 >/dev/null
printf '531864\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 temporary 7005 --reader "$R1" 3<"$T/s.pin" >"$T/tmp.json" 2>/dev/null
check_eq "a second temporary card is issued" done "$(wait_op "$(json "$T/tmp.json" 'j["operation"]')")"
SNT2=$(serials 7007)
check "E's holds reach the CA" wait_settled 7005
check "E is on hold again" crl_has CertificateHold $SNE
check_eq "the loan runs while the clock has not passed its end" "suspended temporary" \
    "$(field 7005 'j["state"]') $(field 7007 'j["state"]')"
daemon_stop
# Eight days later; the restart also brings a profile requiring approvals.
sed -i 's/^self_test = true;/&\nkey_recovery_approvals = 2;/' "$T/etc/profiles/employee.conf"
CARDMGRD_CLOCK_OFFSET=$((8 * 86400)) daemon_start
check "eight days later the scheduler ends the loan" wait_state 7007 expired
check "and the CA work drains" wait_settled 7005
check_eq "inventory: E active, the temporary card expired" "active expired" \
    "$(field 7005 'j["state"]') $(field 7007 'j["state"]')"
check "E's certificates are off the CRL" crl_has absent $SNE
check "the temporary card's are revoked" crl_has CessationOfOperation $SNT2
check_grep "its history names the scheduler" '"actor": *"scheduler"' "$T/c.json"

# --- a profile that requires approvals for key recovery
card_json 7005; cp "$T/c.json" "$T/e.before"
l0=$(wc -l <"$T/nginx/access.log")
replace_card 7005 "$R0" damaged 975310
check_eq "replacing E is refused (exit 4, 403)" 4 $?
check_grep "saying approvals are required and nobody may give them" \
    'requires 2 approval\(s\) for key recovery and only 0 operator\(s\).*approvers_missing' "$T/rep.err"
card_json 7005
check "E's record is unchanged" cmp -s "$T/e.before" "$T/c.json"
check_eq "the CA was not asked" "$l0" "$(wc -l <"$T/nginx/access.log")"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the audit log has the refusals" '"replace.refused"' "$T/audit.json"
check_grep "and the replacements" '"replace.ok"' "$T/audit.json"
printf '531864\n' >"$T/s.pin"
cm officer --secrets-fd 3 temporary 7005 --reader "$R0" 3<"$T/s.pin" 2>"$T/tmp.err"
check_eq "a temporary card (key recovery too) is refused the same way (exit 4)" 4 $?

# --- a loan whose permanent card is declared lost: the lifecycle's
# permanent_lost decides (the shipped file revokes the temporary card)
daemon_stop
sed -i '/^key_recovery_approvals = 2;/d' "$T/etc/profiles/employee.conf"
check "the daemon starts with today's clock and no approvals" daemon_start
vcard_insert 0 "$T/t3.state" --create --serial 7008 >/dev/null
cm officer --json --secrets-fd 3 temporary 7005 --reader "$R0" 3<"$T/s.pin" >"$T/tmp.json" 2>/dev/null
check_eq "a third temporary card is issued" done "$(wait_op "$(json "$T/tmp.json" 'j["operation"]')")"
SNT3=$(serials 7008)
check "E is declared lost while it is held" cm security retire 7005 --reason lost
check "the scheduler ends the loan the lifecycle's way" wait_state 7008 retired
check_grep "by permanent_lost" '"event": *"permanent_lost"' "$T/c.json"
check "its revocations reach the CA" wait_settled 7008
check "the temporary card's certificates are revoked" crl_has CessationOfOperation $SNT3
check "E's are keyCompromise" crl_has KeyCompromise $SNE

done_testing
