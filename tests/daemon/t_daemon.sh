#!/bin/bash
# cardmgrd end to end: three processes under their own users; issue, PIN
# change, unblock and retire through the `cardmgr` CLI against virtual cards,
# pcscd and the test CA. Every effect is checked through another path: stock
# clients on the card (yubico-piv-tool, OpenSC), openssl on the certificates,
# the test CA's own records and CRL, the inventory after a restart.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private

# yubico-piv-tool status; once more after a moment if the card is still
# settling from the daemon's reset (pcsc-lite answers the first client after
# a reset with a transient error).
ypt_status() {
	ypt -a status 2>/dev/null || { sleep 0.3; ypt -a status; }
}

# --- the processes
check "status answers" cm auditor status
ps -eo user:20,args | grep '[c]ardmgrd' >"$T/ps"
check_grep "api runs as cardmgr-api" '^cardmgr-api ' "$T/ps"
check_grep "engine runs as cardmgr-engine" '^cardmgr-engine ' "$T/ps"
check_grep "keyd runs as cardmgr-keyd" '^cardmgr-keyd ' "$T/ps"
check_eq "the parent alone stays root" 1 "$(grep -c '^root ' "$T/ps")"
for p in $(pgrep -f "cardmgrd -d"); do
	u=$(stat -c %U /proc/$p)
	m=$(grep -c softhsm /proc/$p/maps)
	case $u/$(cat /proc/$p/comm) in
	cardmgr-keyd/p11h) check "keyd's PKCS#11 helper has the token module mapped" test "$m" -gt 0 ;;
	cardmgr-keyd/*) check_eq "keyd has no token module mapped (its helper runs it)" 0 "$m" ;;
	root/*) ;;
	*) check_eq "$u has no token module mapped" 0 "$m" ;;
	esac
done
# A peer or log reader gone mid-write is an error, never a silent SIGPIPE.
check_eq "one PKCS#11 helper runs, as cardmgr-keyd" 1 \
    "$(for p in $(pgrep -u cardmgr-keyd -f "cardmgrd -d"); do cat /proc/$p/comm; done | grep -c '^p11h$')"
check_eq "the parent, its three children and keyd's helper ignore SIGPIPE (SigIgn, /proc)" 11111 \
    "$(for p in $(pgrep -f "cardmgrd -d"); do sigpipe_ignored "$p"; done | tr -d '\n')"

# --- configuration as it is on disk
check_grep "check-config: the shipped profiles are valid" '"valid": *true' <(cm auditor --json check-config)
cp "$T/etc/profiles/employee.conf" "$T/employee.bak"
sed -i 's/^pin_retries = 3;/pin_retries = 3;\nbogus_setting = 1;/' "$T/etc/profiles/employee.conf"
cm auditor --json check-config >"$T/cc.json"
check_grep "check-config names the file and line of an unknown setting" 'employee.conf:[0-9]+:' "$T/cc.json"
cp "$T/employee.bak" "$T/etc/profiles/employee.conf"
check_fails "a holder may not check the configuration" cm nobody check-config

# --- issue
vcard_insert 0 "$T/card0.state" --create --serial 5001 >/dev/null
cm auditor --json readers >"$T/readers.json"
check_eq "readers: the card in reader 0 is seen, serial 5001, not yet in the inventory" "card 5001 unknown" \
    "$(json "$T/readers.json" '" ".join(x for x in (j["readers"][0]["state"], j["readers"][0].get("serial",""), j["readers"][0]["inventory"]))')"
check_eq "readers: reader 1 is empty" empty "$(json "$T/readers.json" 'j["readers"][1]["state"]')"
check "officer adds a holder" cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com
check_grep "the holder list has her" '"id": *"E100"' <(cm helpdesk --json holders list)
check_grep "a search by name finds her" '"Jane Doe"' <(cm helpdesk --json holders list --query jane)
check_fails "an auditor may not add holders" cm auditor holders add --id E101 --name "X Y"
n0=$(issued_count)
l0=$(wc -l <"$T/nginx/access.log")
printf '461937\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder E100 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "issue is accepted as operation 1 (202)" 1 "$(json "$T/issue.json" 'j["operation"]')"
# Following it without polling: with the card frozen no step can land, so a
# request for "more than N steps" is still waiting a second later, and it
# answers with the next step once the card goes on.
steps_of() { cm officer --json op show 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))'; }
for i in $(seq 100); do [ "$(steps_of)" -ge 1 ] && break; sleep 0.05; done
kill -STOP "$(cat "$T/pids/vcard0")"
n1=$(steps_of); sleep 0.3; n=$(steps_of)
while [ "$n" != "$n1" ]; do n1=$n; sleep 0.3; n=$(steps_of); done
as_officer curl -s --unix-socket "$T/run/api.sock" \
    "http://localhost/v1/operations/1?wait=30&steps=$n" >"$T/longpoll.json" &
lp=$!
sleep 1
check "GET /v1/operations/1?wait=30&steps=$n waits while no step lands" kill -0 $lp
kill -CONT "$(cat "$T/pids/vcard0")"
wait $lp
check "and answers with the next step once the card goes on" \
    test "$(json "$T/longpoll.json" 'len(j["steps"])')" -gt "$n"
check_eq "the operation ends done (cardmgr --wait op show)" done "$(wait_op 1)"
check_grep "its journal reaches pin_puk:done" '"pin_puk:done"' "$T/op.json"
cm officer --json cards show 5001 >"$T/card.json"
check_eq "the inventory calls the card active" active "$(json "$T/card.json" 'j["state"]')"
check_eq "with 4 certificates" 4 "$(json "$T/card.json" 'len(j["certificates"])')"
guid=$(json "$T/card.json" 'j["guid"]')
check_eq "readers: now the inventory's active card, by its GUID" "$guid active" \
    "$(cm auditor --json readers | python3 -c 'import json,sys; r=json.load(sys.stdin)["readers"][0]; print(r["guid"], r["inventory"])')"
check_eq "the test CA issued exactly 4 certificates" $((n0 + 4)) "$(issued_count)"
check_eq "keyd's export ledger names the card's GUID, root's file, mode 600" \
    "$guid root 600 16" "$(xxd -p "$T/keyd/exported" | tr -d '\n') $(stat -c '%U %a %s' "$T/keyd/exported")"
# 4 enrolments, each one request (the test CA grants implicit confirmation:
# no certConf; ca.conf implicit_confirm): nginx sees the daemon keep
# its connection from one transaction to the next (keep_alive in ca.conf;
# one connection per transaction before), at most one full handshake (no
# station-key signature per request), and every request still carries the
# station's DN.
tail -n +$((l0 + 1)) "$T/nginx/access.log" | grep '"POST /cmp ' >"$T/issue-cmp.log"
check_eq "the issuance made 4 CMP requests" 4 "$(wc -l <"$T/issue-cmp.log")"
check "over at most 2 TLS connections (nginx: conn=)" \
    test "$(grep -o ' conn=[0-9]*' "$T/issue-cmp.log" | sort -u | wc -l)" -le 2
check "with at most one full handshake among them (nginx: reused=.)" \
    test "$(grep ' reused=\.' "$T/issue-cmp.log" | grep -o ' conn=[0-9]*' | sort -u | wc -l)" -le 1
check_eq "every one came with the station's verified certificate" 4 \
    "$(grep -c 'verify=SUCCESS dn="CN=station-01,O=Test"' "$T/issue-cmp.log")"
check_grep "the card's CHUID carries the inventory's GUID" "3410$guid" <(ypt_status)
for s in 9a 9c 9d 9e; do
	ypt -a read-certificate -s $s >"$T/$s.crt" 2>/dev/null
	check "slot $s: certificate chains to the test root" \
	    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$T/$s.crt"
done
check_grep "9a subject from the profile template" 'CN ?= ?Jane Doe' \
    <(openssl x509 -in "$T/9a.crt" -noout -subject)
check "OpenSC logs in with the holder's PIN and signs" p11tool --login --pin 461937 \
    --sign --id 01 -m ECDSA-SHA256 -i "$T/s" -o "$T/sig"
check_fails "the factory management key is gone" \
    ypt -a set-mgm-key -n 010203040506070801020304050607080102030405060708
check_fails "issuing on an issued card is refused" sh -c \
    "printf '135792\n' | setpriv --reuid=$OFFICER --regid=$OFFICER --clear-groups \
    '$BIN/cardmgr' -s '$T/run/api.sock' --secrets-fd 0 issue --reader '$R' --holder E100 --profile temporary"

# --- master key rotation: new cards use the new version, issued ones keep theirs
check_eq "card 5001 was diversified under master key v1" 1 \
    "$(json "$T/card.json" 'j["master_key_version"]')"
check_fails "only an administrator makes a new master key" cm security keys new-master
cm admin --json keys new-master >"$T/mk.json"
check_eq "the administrator makes master key v2" 2 "$(json "$T/mk.json" 'j["master_key_version"]')"
check_fails "a second one within the hour is refused" cm admin keys new-master
check_eq "status names v2" 2 "$(cm auditor --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["master_key_version"])')"
check_grep "the audit log has it, and the refusal" '"master_new.refused"' <(cm auditor --json audit show --limit 1000)

# --- PIN change (the holder, no operator)
pc() {	# old new again -> exit status; output in $T/pc
	printf '%s\n%s\n%s\n' "$1" "$2" "$3" >"$T/s"
	cm nobody --secrets-fd 3 pin-change 5001 --reader "$R" 3<"$T/s" >"$T/pc" 2>&1
}
pc 461937 123456 123456
check_eq "a blocklisted new PIN is refused (exit 4)" 4 $?
check_grep "PIN tries untouched: policy is checked before the card" \
    'PIN tries left:[[:space:]]*3' <(ypt_status)
pc 461937 572814 135791
check_eq "two different new PINs are refused" 4 $?
pc 111111 572814 572814
check_eq "a wrong old PIN is refused" 4 $?
check_grep "and the tries left are reported" '2' "$T/pc"
pc 461937 572814 572814
check_eq "the holder changes the PIN" 0 $?
check "OpenSC logs in with the new PIN" p11tool --login --pin 572814 --list-objects
# A card that hangs mid-operation holds up its own reader only: with the
# card frozen (SIGSTOP), the PIN change waits on it while the engine still
# answers. (Card work used to run in the engine's loop: status hung too.)
vc0=$(cat "$T/pids/vcard0")
kill -STOP "$vc0"
printf '111111\n681359\n681359\n' >"$T/s2"
cm nobody --secrets-fd 3 pin-change 5001 --reader "$R" 3<"$T/s2" >"$T/pc-slow" 2>&1 &
slow=$!
sleep 1	# let the request reach the card (a settle, not a measurement)
check "the engine answers status while a PIN change waits on a frozen card" \
    timeout 20 "$BIN/cardmgr" -s "$T/run/api.sock" status
check "and the PIN change is still waiting" kill -0 "$slow"
kill -CONT "$vc0"
wait "$slow"
check_eq "thawed, the card refuses the wrong old PIN (exit 4)" 4 $?
p11tool --login --pin 572814 --list-objects >/dev/null 2>&1	# tries back to 3

# --- the inventory survives a restart
daemon_stop
check "the daemon starts again" daemon_start
cm auditor --json cards show 5001 >"$T/card2.json"
check_eq "the card is still active after the restart" active "$(json "$T/card2.json" 'j["state"]')"
check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"

# --- unblock after challenge questions
for i in 1 2 3; do p11tool --login --pin 000000 --list-objects >/dev/null 2>&1; done
check_grep "PIN blocked" 'PIN tries left:[[:space:]]*0' <(ypt_status)
pc 572814 461937 461937
check_eq "PIN change on a blocked PIN is refused" 4 $?
check_grep "and routed to unblock" 'unblock' "$T/pc"

ub() {	# who, then answers (q<ID>=...) and the new PIN, one per argument
	local who=$1; shift
	printf '%s\n' "$@" >"$T/s"
	cm "$who" --secrets-fd 3 unblock 5001 --reader "$R" 3<"$T/s" >"$T/ub" 2>&1
}
RIGHT=(q1="Red  Bicycle!" q2="answer two" q3="ANSWER three" q4="answer four" q5="answer five")
ub nobody "${RIGHT[@]}" 975310
check_eq "the holder alone may not unblock (exit 4)" 4 $?
ub officer "${RIGHT[@]}" 975310
check_eq "nor may a badge officer" 4 $?
ub helpdesk q1=wrong q2=wrong q3=wrong q4=wrong q5=wrong 975310
check_eq "wrong answers are refused" 4 $?
check_grep "PIN still blocked after wrong answers" 'PIN tries left:[[:space:]]*0' <(ypt_status)
ub helpdesk "${RIGHT[@]}" 975310
check_eq "right answers (case, spaces, punctuation normalised) unblock" 0 $?
check "OpenSC logs in with the PIN set at unblock" p11tool --login --pin 975310 --list-objects
ub helpdesk "${RIGHT[@]}" 111222
check_eq "a new PIN against the policy (repeated digits) is refused" 4 $?

# --- retire with the card present: revoked at the CA, kept (no reuse)
n=$(cm security --json cards show 5001 | python3 -c 'import json,sys; print(" ".join(c["serial"] for c in json.load(sys.stdin)["certificates"]))')
check "security officer retires the card (present)" cm security retire 5001 --reason retire --reader "$R"
cm auditor --json cards show 5001 >"$T/card3.json"
check_eq "inventory: retired" retired "$(json "$T/card3.json" 'j["state"]')"
check_eq "no CA work pending" 0 "$(json "$T/card3.json" 'j["pending_ca"]')"
curl -s http://ca.test:8080/crl -o "$T/crl.der"
openssl crl -inform DER -in "$T/crl.der" -noout -text >"$T/crl.txt"
for sn in $n; do
	check_grep "CRL lists $sn" "Serial Number: ${sn^^}" "$T/crl.txt"
done
check_eq "each with cessationOfOperation" 4 "$(grep -c 'Cessation Of Operation' "$T/crl.txt")"
check "employee cards are not wiped (no reuse): 9a certificate still there" ypt -a read-certificate -s 9a
check_fails "PIN change on a retired card is refused" pc 975310 135792 135792

# --- two temporary cards issued at the same time (each issuance sends its
# own enrollments over a CA link of its own): each certificate once at the CA
vcard_insert 1 "$T/card1.state" --create --serial 5002 >/dev/null
vcard_insert 2 "$T/card2.state" --create --serial 5003 >/dev/null
R1=$(reader_name 1)
R2=$(reader_name 2)
printf '482916\n' >"$T/s"
n0=$(ls "$PKI/txid" | wc -l)
cm officer --json --secrets-fd 3 issue --reader "$R1" --holder E100 --profile temporary 3<"$T/s" >"$T/i2.json"
cm officer --json --secrets-fd 3 issue --reader "$R2" --holder E100 --profile temporary 3<"$T/s" >"$T/i3.json"
check_eq "a temporary card is issued" done "$(wait_op "$(json "$T/i2.json" 'j["operation"]')")"
check_eq "another temporary card is issued beside it" done "$(wait_op "$(json "$T/i3.json" 'j["operation"]')")"
check_eq "the CA's own records: 4 certificates, each issued once" 4 $(( $(ls "$PKI/txid" | wc -l) - n0 ))
for c in 5002 5003; do
	cm auditor --json cards show $c | python3 -c 'import json,sys; print("\n".join(c["serial"].upper().lstrip("0") for c in json.load(sys.stdin)["certificates"]))'
done | sort >"$T/inv-serials"
for f in "$PKI"/txid/*; do
	openssl x509 -inform DER -in "$f" -noout -serial | cut -d= -f2 | sed 's/^0*//'
done | sort >"$T/ca-serials"
check_eq "the inventory holds those 4 (serials the CA recorded)" 4 \
    "$(comm -12 "$T/inv-serials" "$T/ca-serials" | wc -l)"

# --- a temporary card, lost: revoked keyCompromise without the card
check_eq "under master key v2 (card 5001 keeps v1: its unblock and retire above used it)" 2 \
    "$(cm auditor --json cards show 5002 | python3 -c 'import json,sys; print(json.load(sys.stdin)["master_key_version"])')"
vcard_remove 1
check "the badge office reports it lost (no card)" cm officer retire 5002 --reason lost
check_eq "inventory: lost" lost "$(cm auditor --json cards show 5002 | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
curl -s http://ca.test:8080/crl | openssl crl -inform DER -noout -text >"$T/crl2.txt"
check_eq "its 2 certificates revoked keyCompromise" 2 "$(grep -c 'Key Compromise' "$T/crl2.txt")"

# --- a temporary card returned: revoked and wiped back to stock (reuse)
# The CA is down while it comes back: the retirement is recorded, the
# revocation queued and shown pending, then sent when the CA returns.
ca_stop
cm officer --json retire 5003 --reason retire --reader "$R2" >"$T/r3.json"
check_eq "retire with the CA down: accepted, pending (exit 3)" 3 $?
check_eq "the inventory shows 2 revocations pending" 2 "$(json "$T/r3.json" 'j["pending_ca"]')"
check_eq "and the card wiped back to stock" True "$(json "$T/r3.json" 'j["wiped"]')"
check "the factory management key works again" \
    yubico-piv-tool -r "$R2" -a set-mgm-key -n 010203040506070801020304050607080102030405060708
check "the factory PIN works again" pkcs11-tool --module "$OPENSC_P11" --slot-description "$R2" --login --pin 123456 --list-objects
ca_start
for i in $(seq 1 40); do
	p=$(cm auditor --json cards show 5003 | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_ca"])')
	[ "$p" = 0 ] && break
	sleep 0.25
done
check_eq "once the CA is back, the journal drains: nothing pending" 0 "$p"
curl -s http://ca.test:8080/crl | openssl crl -inform DER -noout -text >"$T/crl3.txt"
check_eq "and the CRL has 8 revoked certificates" 8 "$(grep -c 'Serial Number' "$T/crl3.txt")"

# --- the card list comes in pages; following "next" lists each card once
cm auditor --json cards list >"$T/all.json"
all=$(json "$T/all.json" '" ".join(sorted(c["guid"] for c in j["cards"]))')
check "the station holds at least 3 cards now" test "$(echo "$all" | wc -w)" -ge 3
check_eq "one page holds them all: no next" False "$(json "$T/all.json" '"next" in j')"
paged="" after="" pages=0
while :; do
	cm auditor --json cards list --limit 1 ${after:+--after "$after"} >"$T/page.json" || break
	paged="$paged $(json "$T/page.json" '" ".join(c["guid"] for c in j["cards"])')"
	pages=$((pages + 1))
	after=$(json "$T/page.json" 'j.get("next", "")')
	[ -n "$after" ] && [ "$pages" -lt 50 ] || break
done
check_eq "pages of 1, following next, list the same cards once each" "$all" \
    "$(echo $paged | tr ' ' '\n' | sort | paste -sd ' ')"
check_eq "as many pages as cards" "$(echo "$all" | wc -w)" "$pages"
check_fails "a cursor that is not one is refused" cm auditor cards list --after nonsense

# --- lockout after too many wrong answers (employee: 3)
vcard_insert 3 "$T/card3.state" --create --serial 5004 >/dev/null
R3=$(reader_name 3)
cm officer holders add --id E200 --name "John Roe" --email john@example.com >/dev/null
printf '461937\na1\na2\na3\na4\na5\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R3" --holder E200 --profile employee \
    --question 6 --question 7 --question 8 --question 9 --question 10 3<"$T/s" >"$T/i4.json"
check_eq "answers shorter than the profile's minimum are refused (exit 4)" 4 $?
printf '461937\nansw1\nansw2\nansw3\nansw4\nansw5\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R3" --holder E200 --profile employee \
    --question 6 --question 7 --question 8 --question 9 --question 10 3<"$T/s" >"$T/i4.json"
check_eq "a second employee card is issued" done "$(wait_op "$(json "$T/i4.json" 'j["operation"]')")"
ub4() { printf '%s\n' "$@" >"$T/s"; cm helpdesk --secrets-fd 3 unblock 5004 --reader "$R3" 3<"$T/s" >"$T/ub" 2>&1; }
for i in 1 2 3; do ub4 q6=x q7=x q8=x q9=x q10=x 975310; done
ub4 q6=answ1 q7=answ2 q8=answ3 q9=answ4 q10=answ5 975310
check_eq "after 3 wrong tries even right answers are refused" 4 $?
check_grep "because unblock is locked" 'locked' "$T/ub"
check_fails "the help desk may not lift the lockout" \
    cm helpdesk holders unlock E200 --reason "holder called back"
check_fails "nor without a reason" cm security holders unlock E200
check "a security officer lifts it, with a reason" \
    cm security holders unlock E200 --reason "identity checked in person"
check_eq "the inventory shows the holder unlocked" 0 \
    "$(cm auditor --json holders show E200 | python3 -c 'import json,sys; print(json.load(sys.stdin)["unblock_locked_until"])')"
ub4 q6=answ1 q7=answ2 q8=answ3 q9=answ4 q10=answ5 975310
check_eq "then the right answers unblock again" 0 $?
check "the card takes the PIN the unblock set (yubico-piv-tool)" yubico-piv-tool -r "$R3" -a verify-pin -P 975310

# --- bad input: a clear 4xx, nothing changed, the daemon still serving
K=http://127.0.0.1:8410
code() { curl -s -o "$T/bad.json" -w '%{http_code}' "$@"; }
n_holders=$(cm auditor --json holders list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["holders"]))' 2>/dev/null ||
    cm helpdesk --json holders list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["holders"]))')
check_eq "malformed JSON: 400" 400 "$(code -X POST -H 'Content-Type: application/json' --data '{"id": ' \
    --unix-socket "$T/run/api.sock" http://localhost/v1/holders)"
check_eq "unknown field: 400" 400 "$(code -X POST -H 'Content-Type: application/json' \
    --data '{"id":"E300","name":"X","role":"admin"}' --unix-socket "$T/run/api.sock" http://localhost/v1/holders)"
check_eq "wrong type: 400" 400 "$(code -X POST -H 'Content-Type: application/json' \
    --data '{"id":300,"name":"X"}' --unix-socket "$T/run/api.sock" http://localhost/v1/holders)"
head -c 200000 /dev/zero | tr '\0' a >"$T/big"
check_eq "oversized body: 413" 413 "$(code -X POST -H 'Content-Type: application/json' \
    --data-binary @"$T/big" --unix-socket "$T/run/api.sock" http://localhost/v1/holders)"
check_eq "path traversal: 400" 400 "$(code --path-as-is "$K/v1/cards/..%2f..%2fetc%2fpasswd")"
check_eq "unknown path: 404" 404 "$(code "$K/v1/nothing")"
check_eq "the kiosk (no operator) may not list cards: 403" 403 "$(code "$K/v1/cards")"
check_eq "a sealed PIN that is not sealed to the session key: 400" 400 "$(code -X POST \
    -H 'Content-Type: application/json' --data \
    '{"reader":"x","old_pin":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","new_pin":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","new_pin_again":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
    "$K/v1/cards/5001/pin")"
check "after all of it the daemon still answers" cm auditor status
check_eq "and no holder was added" "$n_holders" \
    "$(cm helpdesk --json holders list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["holders"]))')"

# --- a card that lies: GENERATE answers 6A80 on the first slot
vcard_remove 3
vcard_insert 3 "$T/card5.state" --create --serial 5005 --inject-sw 47=6A80 >/dev/null
sleep 0.5
printf '461937\nansw1\nansw2\nansw3\nansw4\nansw5\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R3" --holder E200 --profile employee \
    --question 6 --question 7 --question 8 --question 9 --question 10 3<"$T/s" >"$T/i5.json"
check_eq "a card refusing GENERATE: the issuance fails and is rolled back" rolled_back \
    "$(wait_op "$(json "$T/i5.json" 'j["operation"]')")"
check_grep "with the card's refusal in the operation's error" '"error": *"[^"]*(PIV_ERR_WRONG_DATA|refused|6A80)' "$T/op.json"
for ((i = 0; i < 40; i++)); do
	[ "$(cm auditor --json cards show 5005 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)" = retired ] && break
	sleep 0.25
done
check_eq "the half-issued card is rolled back at once (it is still in the reader)" retired \
    "$(cm auditor --json cards show 5005 | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
check "and it is back to factory state" card_blank "$R3"

# --- audit: every operation, and no secret anywhere
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "audit has the issue" '"issue.ok"' "$T/audit.json"
check_grep "audit has the refused unblock" '"unblock.refused"' "$T/audit.json"
check_grep "audit has the retirement" '"retire.ok"' "$T/audit.json"
check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
for secret in 461937 572814 975310 482916 'answer two' 'answ3'; do
	check_fails "no '$secret' in the log, the inventory or the audit" \
	    grep -rqaF -- "$secret" "$T/cardmgrd.log" "$T/inv" "$T/audit.json"
done

# --- an invalid profile: the daemon refuses to start, and says where
daemon_stop
sed -i 's/^pin_retries = 3;/pin_retries = 99;/' "$T/etc/profiles/employee.conf"
"$BIN/cardmgrd" -c "$T/etc/cardmgrd.conf" >"$T/bad-start.log" 2>&1
check_eq "cardmgrd exits 1 with an invalid profile" 1 $?
check_grep "naming the file and line" 'employee.conf:[0-9]+:' "$T/bad-start.log"
check_fails "cardmgrd -n says so too" "$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf"
# Valid files that disagree: contractors' temporary cards nobody may issue.
sed -i 's/^pin_retries = 99;/pin_retries = 3;/' "$T/etc/profiles/employee.conf"
sed -i 's/^  issue = \[ "badge_officer", "helpdesk", "security_officer" \];/  issue = [ "badge_officer", "helpdesk" ];/' \
    "$T/etc/profiles/temporary.conf"
"$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf" >"$T/bad-n.log" 2>&1
check_eq "profiles and lifecycle that disagree: cardmgrd -n exits 1" 1 $?
check_grep "naming the profile and the operation nobody may run" \
    'contractor\.conf: roles\.temporary = \[security_officer\]: no role may run it' "$T/bad-n.log"
"$BIN/cardmgrd" -c "$T/etc/cardmgrd.conf" >"$T/bad-start.log" 2>&1
check_eq "and the daemon does not start on them" 1 $?
done_testing
