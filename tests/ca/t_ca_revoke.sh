#!/bin/bash
# Layer 2: revocation with each reason, hold and un-hold, idempotent retries,
# renewal of a card certificate (new p10cr, same profile),
# genm caCerts, and the CRL: fetched, signature-verified, cached with its
# nextUpdate, and showing revocations made centrally. Every effect is read
# back from the CA's CRL with curl + openssl crl, not from our own output.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }

crl_text() {	# the CA's current CRL, as openssl prints it
	curl -sf http://ca.test:8080/crl | openssl crl -inform DER -noout -text
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
enroll() {	# name profile
	mkcsr "$1" && cli enroll --csr "$T/$1.csr" --profile "$2" --out "$T/$1.crt" >/dev/null
}
crl_reason() {	# serial: the reason the CA's CRL gives for it, or "absent"
	crl_text | awk -v s="$1" '
	    /Serial Number:/ { cur = $3 }
	    cur == s && /Reason Code/ { getline; gsub(/^ +/, ""); print; found = 1; exit }
	    END { if (!found) print "absent" }'
}

check "station enrolled" enroll_station
for r in keyCompromise:"Key Compromise" cessationOfOperation:"Cessation Of Operation" \
         superseded:"Superseded" affiliationChanged:"Affiliation Changed"; do
	name=${r%%:*} text=${r#*:}
	enroll "card-$name" piv-auth
	cli revoke --cert "$T/card-$name.crt" --reason "$name" >/dev/null 2>&1
	check_eq "rr $name: CA's CRL lists the reason" "$text" \
	    "$(crl_reason "$(serial_of "$T/card-$name.crt")")"
done

enroll held piv-auth
s=$(serial_of "$T/held.crt")
check "hold accepted" cli revoke --cert "$T/held.crt" --reason certificateHold
check_eq "CRL shows the hold" "Certificate Hold" "$(crl_reason "$s")"
check "un-hold (removeFromCRL) accepted" cli unhold --cert "$T/held.crt"
check_eq "CRL no longer lists it" absent "$(crl_reason "$s")"
check "un-hold again is success (idempotent)" cli unhold --cert "$T/held.crt"

kc=$T/card-keyCompromise.crt
check "revoking an already revoked certificate is success" \
    cli revoke --cert "$kc" --reason keyCompromise
check_grep "CA saw it as a repeat" "already revoked" "$T/testca.log"
check_eq "CRL lists it once" 1 "$(crl_text | grep -c "Serial Number: $(serial_of "$kc")")"
cli unhold --cert "$kc" >"$T/out" 2>&1
check_eq "un-hold of a revoked (not held) certificate is refused" 1 $?
check_grep "with the CA's reason" 'not on hold' "$T/out"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/f.key" \
    -subj /CN=foreign -out "$T/foreign.crt" 2>/dev/null
cli revoke --cert "$T/foreign.crt" --reason keyCompromise >"$T/out" 2>&1
check_eq "revoking a foreign certificate fails" 1 $?

# Renewal of a card certificate: a new p10cr under the profile of the old one.
enroll ren piv-sign
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ren2.key" \
    -subj "/O=Test/CN=ren" -outform DER -out "$T/ren2.csr" 2>/dev/null
cli renew --cert "$T/ren.crt" --csr "$T/ren2.csr" --out "$T/ren2.crt" >"$T/out" 2>&1
check_eq "renew (new p10cr) exits 0" 0 $?
check_grep "under the old certificate's profile" 'renewed under profile piv-sign' "$T/out"
check_grep "the new certificate carries that profile" 'Non Repudiation' \
    <(openssl x509 -in "$T/ren2.crt" -noout -ext keyUsage)
check "it certifies the new key" cmp <(openssl x509 -in "$T/ren2.crt" -noout -pubkey) \
    <(openssl pkey -in "$T/ren2.key" -pubout)
check "and has a new serial" test "$(serial_of "$T/ren.crt")" != "$(serial_of "$T/ren2.crt")"
mkcsr other
cli renew --cert "$T/ren.crt" --csr "$T/other.csr" >"$T/out" 2>&1
check_eq "renewal with another subject is refused" 1 $?
check "the old certificate is then superseded" cli revoke --cert "$T/ren.crt" --reason superseded
check_eq "CRL: old superseded" "Superseded" "$(crl_reason "$(serial_of "$T/ren.crt")")"
check_eq "CRL: new not listed" absent "$(crl_reason "$(serial_of "$T/ren2.crt")")"

# genm caCerts
check "genm caCerts" cli cacerts --out "$T/cacerts.pem"
check_grep "caCerts has the issuing CA" "$(openssl x509 -in "$PKI/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2)" \
    <(openssl crl2pkcs7 -nocrl -certfile "$T/cacerts.pem" | openssl pkcs7 -print_certs | \
      openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)

# A revocation made centrally, by the CA operator, not by this station.
enroll central piv-auth
openssl cmp -cmd rr -server 127.0.0.1:8080 -path cmp -cert "$PKI/admin.crt" -key "$PKI/admin.key" \
    -oldcert "$T/central.crt" -revreason 1 -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" \
    >"$T/central.log" 2>&1
check_grep "CA operator revoked a station-issued card" 'revocation accepted' "$T/central.log"
check "crl-update fetches and verifies the CRL" cli crl-update
check "CRL cached" test -s "$ST/crl.der"
check "cached CRL verifies with openssl against the issuing CA" openssl crl -inform DER -in "$ST/crl.der" -CAfile "$PKI/chain.pem" -noout
cli status >"$T/status"
check_grep "status: centrally revoked card shows revoked" \
    "^cert $(serial_of "$T/central.crt") .*status=revoked \\(keyCompromise\\)" "$T/status"
check_grep "status: un-held card is good" "^cert $s .*status=good" "$T/status"
check_grep "status: CRL with next update, not stale" '^crl: .*next update .*GMT$' "$T/status"

# A CRL whose nextUpdate has passed is shown as stale.
ca_stop; ca_start --crl-seconds -60
check "crl-update accepts a CRL (signature good)" cli crl-update
cli status >"$T/status2"
check_grep "status: stale CRL is flagged" '^crl: .*\(STALE\)' "$T/status2"

# A forged CRL (right content, untrusted signature) is refused; cache kept.
cp "$ST/crl.der" "$T/crl.before"
ca_stop; ca_start --fault crl-forged
cli crl-update >"$T/out" 2>&1
check_eq "forged CRL refused" 1 $?
check_grep "refusal says why" 'REJECTED: CRL signature not trusted' "$T/out"
check "cache untouched by the forged CRL" cmp "$ST/crl.der" "$T/crl.before"

# The distribution point is down (nothing listens on 8080): "connection
# refused" at once, exit 1, cache kept (OpenSSL's own connect retried the
# refusal until the whole timeout and said "cannot fetch the CRL").
ca_stop
cli crl-update >"$T/out" 2>&1
check_eq "CRL point down: crl-update fails (exit 1)" 1 $?
check_grep "and says connection refused" \
    'CRL http://ca.test:8080/crl: connection refused$' "$T/out"
check "cache untouched" cmp "$ST/crl.der" "$T/crl.before"
ca_start
done_testing
