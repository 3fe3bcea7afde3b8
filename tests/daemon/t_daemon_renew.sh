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
check_eq "an employee card is issued" done "$(issue_employee "$R0" E300 385027)"
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

# --- renewal with the holder's PIN, at the moved clock: 9a (new key), 9c
# (the profile lets it keep its key), 9d escrowed (a new escrowed key, the
# old one, recovered from escrow, into retired slot 82 with its certificate)
renew_card() {	# PIN -> exit status; answer in $T/rn.json, stderr in $T/rn.err
	printf '%s\n' "$1" >"$T/s.pin"
	cm officer --json --secrets-fd 3 cards renew 7101 --reader "$R0" 3<"$T/s.pin" >"$T/rn.json" 2>"$T/rn.err"
}
pub() { slot_cert "$1" | openssl x509 -noout -pubkey; }
issued_left() {	# serials the CA issued for cards, not on its CRL, not on the card
	local on
	on=" $(for s in 9a 9c 9d 9e; do card_serial $s; done | tr '\n' ' ') "
	crl_entries >"$T/crl.now"
	sed -n 's/.*issued serial=\([0-9A-Fa-f]*\) .*profile=\(piv-auth\|piv-sign\|piv-keymgmt\|card-auth\).*/\1/p' "$T/testca.log" |
	    tr A-F a-f | while read -r sn; do
		grep -qi "^$sn " "$T/crl.now" && continue
		case "$on $OTHER " in *" $sn "*) continue ;; esac
		echo "$sn"
	done
}
OTHER=""
not_in_inventory() {	# serials the CA issued for cards the inventory does not hold
	cm auditor --json cards show 7101 >"$T/c.json"
	sed -n 's/.*issued serial=\([0-9A-Fa-f]*\) .*profile=\(piv-auth\|piv-sign\|piv-keymgmt\|card-auth\).*/\1/p' "$T/testca.log" |
	    tr A-F a-f | while read -r sn; do
		case " $OTHER " in *" $sn "*) continue ;; esac
		json "$T/c.json" '" ".join(c["serial"] for c in j["certificates"])' | tr ' ' '\n' | grep -qx "$sn" || echo "$sn"
	done
}
daemon_stop
sed -i '0,/cert_profile = "piv-sign"; cert_days = 1095;/s//& renew_key = "reuse";/' "$PROF"
check_grep "the profile lets 9c keep its key" 'piv-sign"; cert_days = 1095; renew_key = "reuse";' "$PROF"
CARDMGRD_CLOCK_OFFSET=$OFF daemon_start
SN0="$(card_serial 9a) $(card_serial 9c) $(card_serial 9d) $(card_serial 9e)"
P9A=$(pub 9a) P9C=$(pub 9c) P9D=$(pub 9d)
slot_cert 9d >"$T/old9d.pem"
head -c 190 /dev/urandom >"$T/m1"
openssl pkeyutl -encrypt -certin -inkey "$T/old9d.pem" -in "$T/m1" -out "$T/e1"
check "a file is encrypted to the old 9D certificate with openssl" test -s "$T/e1"
l0=$(wc -l <"$T/nginx/access.log")
renew_card 111111
check_eq "a wrong PIN: refused (exit 4, 403)" 4 $?
check_grep "as a wrong PIN, with the tries left" '"tries_left": *2|wrong PIN' "$T/rn.err"
check_eq "the card is as it was" "$SN0" "$(card_serial 9a) $(card_serial 9c) $(card_serial 9d) $(card_serial 9e)"
check_eq "the CA was not asked" "$l0" "$(wc -l <"$T/nginx/access.log")"
check "the right PIN unblocks nothing needed: it verifies" yubico-piv-tool -r "$R0" -a verify-pin -P 385027
renew_card 385027
check_eq "the right PIN: renewed (exit 0)" 0 $?
check_eq "nothing is left out (9d, escrowed, included)" '[]' "$(json "$T/rn.json" 'json.dumps(j["skipped"])')"
check "9a holds a new certificate (yubico-piv-tool)" test "$(card_serial 9a)" != "$(cut -d' ' -f1 <<<"$SN0")"
check "and a new key" test "$(pub 9a)" != "$P9A"
check "9c holds a new certificate" test "$(card_serial 9c)" != "$(cut -d' ' -f2 <<<"$SN0")"
check_eq "for the same key (renew_key = reuse)" "$P9C" "$(pub 9c)"
check "9d holds a new certificate" test "$(card_serial 9d)" != "$(cut -d' ' -f3 <<<"$SN0")"
check "and a new key" test "$(pub 9d)" != "$P9D"
check_eq "9e is untouched" "$(cut -d' ' -f4 <<<"$SN0")" "$(card_serial 9e)"
check_eq "retired slot 82 holds the old 9d certificate (yubico-piv-tool)" \
    "$(openssl x509 -noout -fingerprint -in "$T/old9d.pem")" "$(slot_cert 82 | openssl x509 -noout -fingerprint)"
pkcs15-tool --reader "$R0" --read-certificate 01 2>/dev/null | openssl x509 -noout -serial >"$T/p15.txt" 2>&1
check_eq "OpenSC's pkcs15-tool reads the new 9a certificate" "serial=$(card_serial 9a | tr a-f A-F)" "$(cat "$T/p15.txt")"
pkcs15-tool --reader "$R0" --read-certificate 03 2>/dev/null | openssl x509 -noout -serial >"$T/p15.txt" 2>&1
check_eq "and the new 9d certificate" "serial=$(card_serial 9d | tr a-f A-F)" "$(cat "$T/p15.txt")"
slot_cert 9d >"$T/new9d.pem"
head -c 190 /dev/urandom >"$T/m2"
openssl pkeyutl -encrypt -certin -inkey "$T/new9d.pem" -in "$T/m2" -out "$T/e2"
check_eq "OpenSC decrypts a file encrypted to the new 9D certificate (9D)" "$(msg_sha "$T/m2")" "$(p11_decrypted 385027 03 "$T/e2")"
check_eq "and the file encrypted to the old one (retired slot 82, via the key history)" "$(msg_sha "$T/m1")" \
    "$(p11_decrypted 385027 05 "$T/e1")"
check_grep "keyd recovered the old escrowed key (its log)" 'escrowed key of card [0-9a-f]{32} slot 9d: recovery done' "$T/cardmgrd.log"
check "the revocations reach the CA (nothing pending)" wait_settled 7101
check "the CRL lists the old 9a, 9c and 9d certificates as superseded" crl_has Superseded $(cut -d' ' -f1-3 <<<"$SN0")
check "and none of the new ones, nor 9e's" crl_has absent $(card_serial 9a) $(card_serial 9c) $(card_serial 9d) $(card_serial 9e)
check_grep "the card's history says renewed" '"event": *"renewed"' <(cm auditor --json cards show 7101)
check_grep "the audit log has the renewal" '"card_renew.ok"|card_renew.*ok' <(cm auditor --json audit show --limit 100)
daemon_stop
daemon_start
check_eq "after a restart, today: the card needs nothing" "" "$(reqs 7101)"
check_eq "the inventory: old ones revoked, new ones valid" "revoked revoked revoked valid valid valid" \
    "$(cm auditor --json cards show 7101 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join(c["status_name"] for s in ("'"$(cut -d' ' -f1 <<<"$SN0")"'", "'"$(cut -d' ' -f2 <<<"$SN0")"'", "'"$(cut -d' ' -f3 <<<"$SN0")"'", "'"$(card_serial 9a)"'", "'"$(card_serial 9c)"'", "'"$(card_serial 9d)"'") for c in j["certificates"] if c["serial"] == s))')"
daemon_stop
check_eq "LMDB after the restart: the card's renewal blob is in inv_escrow (generation 1)" 1 \
    "$(mdb_dump -s inv_escrow "$T/inv" 2>/dev/null | grep -c '^ [0-9a-f]\{32\}00000001$')"
daemon_start
check_fails "the PIN is in no log" grep -rq 385027 "$T/cardmgrd.log" "$T/testca.log"

# --- another holder's card, renewed once (9d: a new key, the old one in 82),
# then replaced: the replacement recovers both, each with its certificate,
# the newest into 9d and the one before into 82; OpenSC decrypts both files.
R1=$(reader_name 1) R2=$(reader_name 2)
vcard_remove 0	# one card at a time for pkcs11-tool
cm officer holders add --id E301 --name "Rene Wed" --email rene@example.com >/dev/null
vcard_insert 1 "$T/b.state" --create --serial 7201 >/dev/null
check_eq "a second card is issued" done "$(issue_employee "$R1" E301 640213)"
restart_at "$OFF"
yubico-piv-tool -r "$R1" -a read-certificate -s 9d 2>/dev/null >"$T/b0.pem"
openssl pkeyutl -encrypt -certin -inkey "$T/b0.pem" -in "$T/m1" -out "$T/e3"
printf '640213\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 cards renew 7201 --reader "$R1" 3<"$T/s.pin" >"$T/rn.json" 2>"$T/rn.err"
check_eq "it renews, 9d included" "0 true" "$? $(json "$T/rn.json" '"true" if j["skipped"] == [] else "false"')"
yubico-piv-tool -r "$R1" -a read-certificate -s 9d 2>/dev/null >"$T/b1.pem"
check "its 9d holds a new key" test "$(openssl x509 -noout -pubkey -in "$T/b1.pem")" != "$(openssl x509 -noout -pubkey -in "$T/b0.pem")"
openssl pkeyutl -encrypt -certin -inkey "$T/b1.pem" -in "$T/m2" -out "$T/e4"
check "its revocations drain" wait_settled 7201
vcard_remove 1
vcard_insert 2 "$T/c.state" --create --serial 7202 >/dev/null
sleep 1
printf '802461\n' >"$T/s.pin"
cm officer --json --secrets-fd 3 replace 7201 --reader "$R2" --reason lost 3<"$T/s.pin" >"$T/rep.json" 2>"$T/rep.err"
check_eq "the renewed card is replaced (202, exit 3)" 3 $?
check_eq "the replacement finishes" done "$(wait_op "$(json "$T/rep.json" 'j["operation"]' 2>/dev/null)")"
check_eq "9d on the replacement holds the renewal's key" "$(openssl x509 -noout -pubkey -in "$T/b1.pem")" \
    "$(yubico-piv-tool -r "$R2" -a read-certificate -s 9d 2>/dev/null | openssl x509 -noout -pubkey)"
check_eq "82 on the replacement holds the issuance's certificate" "$(openssl x509 -noout -fingerprint -in "$T/b0.pem")" \
    "$(yubico-piv-tool -r "$R2" -a read-certificate -s 82 2>/dev/null | openssl x509 -noout -fingerprint)"
check_eq "OpenSC decrypts on the replacement the file encrypted to the renewed key (9D)" "$(msg_sha "$T/m2")" "$(p11_decrypted 802461 03 "$T/e4")"
check_eq "and the one encrypted to the issuance's key (82)" "$(msg_sha "$T/m1")" "$(p11_decrypted 802461 05 "$T/e3")"
# The other cards' certificates are theirs: not 7101's to account for below.
OTHER=$(for c in 7201 7202; do cm auditor --json cards show $c | python3 -c \
    'import json,sys; print(" ".join(c["serial"] for c in json.load(sys.stdin)["certificates"]))'; done | tr '\n' ' ')
check "the other cards' certificates are known ($(wc -w <<<"$OTHER"))" test "$(wc -w <<<"$OTHER")" -ge 10
vcard_remove 2
vcard_insert 0 "$T/a.state" >/dev/null
sleep 1

# --- kill -9 of the engine at each journal step of a renewal: at the next
# start it is settled; no certificate lost, none off the card unrevoked.
STEPS="auth:begin auth:done slot_9a:begin enroll:journaled enroll:answered cert_9a:done
slot_9c:begin slot_9a:done cert_9c:done slot_9c:done escrow_9d:done end:ok"
# Drained: the card owes the CA nothing and the whole journal is empty. A
# certificate issued for a renewal the kill cut off is revoked by the fold
# of the CA's answer (eng_enroll_late): its revocation is queued after the
# card's own count reached 0, so the card's count alone can pass too early.
wait_drained() {
	local i p
	wait_settled 7101 || return 1
	for ((i = 0; i < 120; i++)); do
		p=$(cm auditor --json status 2>/dev/null | python3 -c \
		    'import json,sys; print(json.load(sys.stdin)["ca"]["pending"])' 2>/dev/null)
		[ "$p" = 0 ] && return 0
		sleep 0.25
	done
	return 1
}
for step in $STEPS; do
	daemon_stop
	CARDMGRD_CRASH_AT=$step CARDMGRD_CLOCK_OFFSET=$OFF daemon_start || { not_ok "$step: daemon start"; continue; }
	renew_card 385027
	pid=$(cat "$T/pids/cardmgrd")
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null; rc=$?
	rm -f "$T/pids/cardmgrd"
	check "$step: the engine died there (exit $rc)" test "$rc" != 0
	n0=$(grep -c 'settled after a restart' "$T/cardmgrd.log")
	CARDMGRD_CLOCK_OFFSET=$OFF daemon_start
	check_eq "$step: the interrupted renewal is settled at start (its log)" $((n0 + 1)) \
	    "$(grep -c 'settled after a restart' "$T/cardmgrd.log")"
	check "$step: the daemon starts again and the CA work drains" wait_drained
	check_eq "$step: no certificate the CA issued is missing from the inventory" "" "$(not_in_inventory | tr '\n' ' ')"
	left_crl=$(issued_left | tr '\n' ' ')
	for ((i = 0; i < 60 && ${#left_crl} > 0; i++)); do	# the fold's own revocation, next drain
		sleep 0.5; left_crl=$(issued_left | tr '\n' ' ')
	done
	check_eq "$step: every one off the card is on the CRL" "" "$left_crl"
	check_eq "$step: the card is still active" active "$(card_state 7101)"
done
# The same card again, its APDUs traced: the reference for the tears below.
# 9d keeps its key from here on: a renewal that moves 9d's key retires the
# old one first, which a torn one may have done already (then it does not,
# and its APDUs no longer line up with the reference's).
daemon_stop
python3 - "$PROF" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('{ slot = "9d";', '{ slot = "9d"; renew_key = "reuse";', 1)
open(p, "w").write(s)
PY
check_grep "the profile lets 9d keep its key now" 'slot = "9d"; renew_key = "reuse";' "$PROF"
CARDMGRD_CLOCK_OFFSET=$OFF daemon_start
vcard_remove 0
vcard_insert 0 "$T/a.state" --trace "$T/r.trace" >/dev/null
sleep 1	# the reader watcher identifies the card first
renew_card 385027
check_eq "after all that the card renews normally" 0 $?
check "and its revocations drain" wait_settled 7101
check_eq "every certificate off the card is on the CRL" "" "$(issued_left | tr '\n' ' ')"

# --- torn: the card pulled (its answer lost) at the 9a key generation, the
# first APDU writing 9a's certificate, and the last one writing 9c's; the
# renewal fails and is settled at once, then converges when renewed again.
grep '^>' "$T/r.trace" >"$T/r.apdus"
PGEN=$(grep -n 'ins=47 p1=.. p2=9A' "$T/r.apdus" | head -n 1 | cut -d: -f1)
PPUT=$(grep -n 'ins=DB' "$T/r.apdus" | head -n 1 | cut -d: -f1)
PLAST=$(grep -n 'ins=DB' "$T/r.apdus" | tail -n 1 | cut -d: -f1)
check "the reference trace has the generation and the writes (APDUs ${PGEN:-?} ${PPUT:-?} ${PLAST:-?})" \
    test -n "$PGEN" -a -n "$PPUT" -a -n "$PLAST"
for P in $PGEN $PPUT $PLAST; do
	vcard_remove 0
	vcard_insert 0 "$T/a.state" --tear-after "$P" >/dev/null
	sleep 1
	renew_card 385027
	rc=$?
	sed 's/^/# /' "$T/rn.err"
	check_fails "torn at APDU $P: the renewal fails" test $rc = 0
	op=$(json "$T/rn.json" 'j.get("operation", "")' 2>/dev/null)
	cm officer --json op show "${op:-0}" >"$T/op.json" 2>/dev/null
	check_eq "torn at APDU $P: its operation is settled at once, failed" failed \
	    "$(json "$T/op.json" 'j["state"]' 2>/dev/null)"
	vcard_remove 0
	vcard_insert 0 "$T/a.state" >/dev/null
	sleep 1
	check "torn at APDU $P: the CA work drains" wait_settled 7101
	check_eq "torn at APDU $P: no certificate the CA issued is missing from the inventory" "" "$(not_in_inventory | tr '\n' ' ')"
	check_eq "torn at APDU $P: every one off the card is on the CRL" "" "$(issued_left | tr '\n' ' ')"
	# keyd answers a card's 9B challenges a few times a minute (no ECB
	# oracle); a restart gives the next renewal its budget without waiting.
	daemon_stop
	CARDMGRD_CLOCK_OFFSET=$OFF daemon_start
done
renew_card 385027
rc=$?
sed 's/^/# /' "$T/rn.err"
check_eq "after the tears the card renews normally" 0 $rc
check "and its revocations drain" wait_settled 7101
check_eq "every certificate off the card is on the CRL" "" "$(issued_left | tr '\n' ' ')"
daemon_stop
daemon_start
check_eq "today it needs nothing" "" "$(reqs 7101)"
check_eq "the inventory's valid certificates are the card's" \
    "$(for s in 9a 9c 9d 9e; do card_serial $s; done | sort | tr '\n' ' ')" \
    "$(cm auditor --json cards show 7101 | python3 -c 'import json,sys; print(" ".join(sorted(c["serial"] for c in json.load(sys.stdin)["certificates"] if c["status_name"] == "valid")) + " ")')"
daemon_stop
CARDMGRD_CLOCK_OFFSET=$OFF daemon_start
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

# The renewal carries it out: 82 (here not escrowed) and 9e on the card,
# then 9d's certificate and the old 9e's revoked as superseded.
daemon_stop
python3 - "$PROF" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index('{ slot = "82";')
j = s.index('escrow = true;', i)
s = s[:j] + s[j + len('escrow = true;'):]
open(p, "w").write(s)
PY
daemon_start
S9D=$(card_serial 9d) S9E=$(card_serial 9e)
renew_card 385027
check_eq "the renewal of 82 and 9e goes through" 0 $?
check "retired slot 82 holds a certificate now (yubico-piv-tool)" test -n "$(card_serial 82)"
check "9e holds a new one" test "$(card_serial 9e)" != "$S9E"
check "the revocations reach the CA" wait_settled 7101
check "the CRL lists 9d's and the old 9e's as superseded" crl_has Superseded "$S9D" "$S9E"
check "and not 82's nor the new 9e's" crl_has absent "$(card_serial 82)" "$(card_serial 9e)"
check_eq "the card needs nothing, and is of profile version 3 now" " 3" \
    "$(reqs 7101) $(json "$T/rq.json" 'j["profile_version"]')"

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
