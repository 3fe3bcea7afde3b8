#!/bin/bash
# Layer 4: the station's own certificate. Enrollment with a one-time secret
# (ir + PBM) works once; a wrong secret fails; renewal (kur) before expiry with
# a new token key, also when killed half-way;
# a station the CA operator revoked stops issuing, says so, keeps its backlog,
# and works again after re-enrollment; an expired station certificate stops
# the station too; the CA issuing an already expired certificate is refused.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

otp_add station-01 right-secret
printf 'wrong-secret\n' >"$T/bad"
cli enroll-station --ref station-01 --secret-file "$T/bad" >"$T/out" 2>&1
check_eq "a wrong one-time secret is refused for good (exit 1)" 1 $?
check_grep "with a clear error" 'station enrollment: .*(protection|PBM|pbm)' "$T/out"
check_grep "reported as final, not as a retry" 'refused by the CA: station enrollment' "$T/out"
check_fails "not as journaled" grep -q 'will be retried' "$T/out"
check "no station certificate after the failure" test ! -f "$ST/station.crt"
printf 'right-secret\n' >"$T/good"
check "the right secret enrolls" cli enroll-station --ref station-01 --secret-file "$T/good"
first=$(serial_of "$ST/station.crt")
rm -f "$ST/station.crt"
cli enroll-station --ref station-01 --secret-file "$T/good" >"$T/out" 2>&1
check_eq "the same one-time secret cannot be used twice" 1 "$([ -f "$ST/station.crt" ]; echo $?)"
check_grep "CA log: the secret was consumed" 'enroll endpoint: no valid one-time secret' "$T/testca.log"

# --- renewal (kur), forced and when due
check "enroll-station with a second secret" enroll_station
old=$(serial_of "$ST/station.crt")
k0=$(openssl x509 -in "$ST/station.crt" -noout -pubkey)
check_grep "renewal not due for a one-year certificate" '^renewal not due' <(cli renew-station)
check "forced renewal" cli renew-station --force
new=$(serial_of "$ST/station.crt")
check "renewal gave a new certificate" test "$old" != "$new"
check_grep "the CA saw a kur" "issued serial=$new .*body=7" "$T/testca.log"
check "renewed certificate chains to the root" \
    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$ST/station.crt"
pubkey() { openssl x509 -in "$ST/station.crt" -noout -pubkey; }
privkeys() {	# labels of the private keys in the station token
	pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label station --login \
	    --pin 123456 -O --type privkey 2>/dev/null | sed -n 's/^ *label: *//p' | sort
}
check "renewal re-keyed the station (new public key)" test "$(pubkey)" != "$k0"
check_eq "the token holds only the new private key" "$(ca_state station.key)" "$(privkeys)"
mkcsr c1
check "the renewed station issues" cli enroll --csr "$T/c1.csr" --profile piv-auth
check_grep "nginx saw it with the new certificate" \
    "verify=SUCCESS dn=\"CN=station-01,O=Test\"" "$T/nginx/access.log"
k1=$(pubkey)
check "renew-station --same-key keeps the key" cli renew-station --force --same-key
check_eq "same public key" "$k1" "$(pubkey)"

# A renewal killed after the new key exists, and one killed after the new
# certificate was stored but before the key switch-over: both complete.
check "cardmgr-ca has its crash points (a MODE=asan build)" has_crash_hook
CARDMGR_CA_CRASH_AT=renew-key cli renew-station --force >/dev/null 2>&1
check_eq "killed after key generation (test hook)" 99 $?
check "the next label is journaled (LMDB ca_state)" test -n "$(ca_state renew.label)"
nl=$(ca_state renew.label)
check "rerun completes the renewal" cli renew-station --force
check_eq "with the journaled key" "$nl" "$(ca_state station.key)"
check_eq "one private key left" "$nl" "$(privkeys)"
k2=$(pubkey)
CARDMGR_CA_CRASH_AT=renew-cert cli renew-station --force >/dev/null 2>&1
check_eq "killed between certificate and key switch-over" 99 $?
check "the certificate is already new" test "$(pubkey)" != "$k2"
cli enroll --csr "$T/c1.csr" --profile piv-auth >"$T/out" 2>&1
check_eq "the next operation works" 0 $?
check_grep "after completing the switch-over" 'completing an interrupted re-keying' "$T/out"
check_eq "the station key is the certified one" "$(ca_state station.key)" "$(privkeys)"
# The release build has no crash points: the variable changes nothing.
rel=$TOP/build/release/bin/cardmgr-ca
if [ -x "$rel" ]; then
	CARDMGR_CA_CRASH_AT=1 "$rel" -c "$T/ca.conf" renew-station --force >"$T/out" 2>&1
	check_eq "release build: CARDMGR_CA_CRASH_AT=1 ignored, renewal done" 0 $?
	check_fails "release build: no crash point compiled in" \
	    grep -qa CARDMGR_CA_CRASH_AT "$rel"
else
	ok "release build: not built # SKIP"
	ok "release build: not built # SKIP"
fi
ca_stop; ca_start --validity 86400
check "renew-station when due (1-day certificate, 30-day window)" cli renew-station --force
due=$(serial_of "$ST/station.crt")
check_grep "status says the renewal is due" '^station: .* RENEWAL DUE$' <(cli status)
cli renew-station >"$T/out" 2>&1
check_eq "renewal is due now and done without --force" 0 $?
check "and gave another certificate" test "$due" != "$(serial_of "$ST/station.crt")"
ca_stop; ca_start

# --- revoked centrally: the station stops and says so
cp "$ST/station.crt" "$T/station-cur.crt"
openssl cmp -cmd rr -server 127.0.0.1:8080 -path cmp -cert "$PKI/admin.crt" -key "$PKI/admin.key" \
    -oldcert "$T/station-cur.crt" -revreason 1 -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" \
    >"$T/rr.log" 2>&1
check_grep "CA operator revoked the station" 'revocation accepted' "$T/rr.log"
mkcsr c2
cli enroll --csr "$T/c2.csr" --profile piv-auth >"$T/out" 2>&1
check_eq "enroll by a revoked station exits 4" 4 $?
check_grep "and says so clearly" 'STATION CERTIFICATE REVOKED' "$T/out"
check_grep "the CA refused it for its signer" 'request from revoked station certificate' "$T/testca.log"
n=$(wc -l <"$T/testca.log")
cli enroll --csr "$T/c2.csr" --profile piv-auth >"$T/out" 2>&1
check_eq "the next request is refused locally (exit 4)" 4 $?
check_eq "without contacting the CA" "$n" "$(wc -l <"$T/testca.log")"
check_grep "status shows REVOKED" '^station: .*status REVOKED' <(cli status)
check_grep "the work is kept" '^outbox: 2 pending' <(cli status)
# The same conclusion from the CRL alone: a fresh state directory that holds
# only the station certificate (no revoked marker, no journal) learns it
# from the CRL, and records why.
F=$T/fresh; mkdir -p "$F"; cp "$ST/station.crt" "$F/"
sed "s|^state_dir = .*|state_dir = $F|" "$T/ca.conf" >"$T/fresh.conf"; chmod 600 "$T/fresh.conf"
fcli() { "$BIN/cardmgr-ca" -c "$T/fresh.conf" "$@"; }
check_grep "fresh state: not known to be revoked before the CRL" \
    '^station: .*status unknown \(no CRL\)' <(fcli status)
fcli crl-update >"$T/out" 2>&1
check_eq "crl-update finds the station on the CRL (exit 4)" 4 $?
check_grep "CRL lists the station (keyCompromise)" '^station: .*status REVOKED' <(fcli status)
check_eq "the marker says why (LMDB ca_state, read with mdb_dump)" \
    "on the CA's CRL, reason keyCompromise" "$(ST=$F ca_state station.revoked)"

# --- re-enrollment: a new secret, a new certificate, the backlog drains
check "re-enroll the station" enroll_station
check "re-enrollment made a new key (the revoked one is not reused)" \
    test "$(pubkey)" != "$(openssl x509 -in "$T/station-cur.crt" -noout -pubkey)"
check_eq "and only that key is left in the token" "$(ca_state station.key)" "$(privkeys)"
check_grep "status good again" '^station: .*status (good|unknown)' <(cli status)
check "the kept work drains" cli outbox drain
check_grep "nothing left" '^outbox: 0 pending' <(cli status)

# --- an expired station certificate
ca_stop; ca_start --validity 2
check "enroll a 2-second station certificate" enroll_station
sleep 3	# let it expire (the assertion is on the state, not on timing)
cli enroll --csr "$T/c1.csr" --profile piv-auth >"$T/out" 2>&1
check_eq "an expired station exits 4" 4 $?
check_grep "and says so" 'STATION CERTIFICATE EXPIRED' "$T/out"
check_grep "the work is kept" '^outbox: 1 pending' <(cli status)
ca_stop; ca_start --validity -100
rm -f "$ST/station.crt"
enroll_station >"$T/out" 2>&1
check_grep "the CA's already-expired certificate is refused at certConf" \
    'issued certificate does not verify|certificate chain does not verify' "$T/out"
check_grep "certConf carried the rejection" 'certConf rejected serial=' "$T/testca.log"

# --- migration: the loose state files of earlier versions go into LMDB once
M=$T/mig; mkdir -p "$M"; cp "$T/station-cur.crt" "$M/station.crt"
printf 'station-key.old1' >"$M/station.key"; printf 'station-key.next1' >"$M/renew.label"
printf 'on the CA CRL' >"$M/station.revoked"; head -c 16 /dev/urandom >"$M/renew.txid"
tx=$(od -An -tx1 "$M/renew.txid" | tr -d ' \n')
sed "s|^state_dir = .*|state_dir = $M|" "$T/ca.conf" >"$T/mig.conf"; chmod 600 "$T/mig.conf"
mcli() { "$BIN/cardmgr-ca" -c "$T/mig.conf" "$@"; }
mcli status >"$T/out" 2>&1
check_eq "migration: the old files are gone" "" "$(cd "$M" && ls station.key renew.label station.revoked renew.txid 2>/dev/null)"
check_eq "migration: current key label in LMDB" station-key.old1 "$(ST=$M ca_state station.key)"
check_eq "migration: next key label in LMDB" station-key.next1 "$(ST=$M ca_state renew.label)"
check_eq "migration: revoked marker in LMDB" "on the CA CRL" "$(ST=$M ca_state station.revoked)"
check_eq "migration: kur transactionID in LMDB, byte for byte" "$tx" \
    "$(mdb_dump -s ca_state "$M/outbox" | grep -A1 "^ $(printf renew.txid | od -An -tx1 | tr -d ' \n')\$" | tail -n 1 | tr -d ' ')"
check_grep "migration: status shows the imported marker" '^station: .*status REVOKED' "$T/out"
printf 'station-key.stale' >"$M/station.key"
mcli status >/dev/null 2>&1
check_eq "migration runs once: a value already in LMDB wins" station-key.old1 "$(ST=$M ca_state station.key)"
check "and the stale file is removed" test ! -e "$M/station.key"
done_testing
