#!/bin/bash
# Layer 1: station enrollment (ir + PBM, key generated in the token), then
# card-key enrollment (p10cr) through nginx's mutual TLS, with the chain, the
# profile, the key binding and certConf checked through independent paths:
# openssl verify, the CA's own state directory, nginx's access log.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }

check "station enrolls with a one-time secret" enroll_station
check "station certificate chains to the test root" \
    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" -purpose sslclient "$ST/station.crt"
check "station private key is in the token" \
    bash -c "pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label station \
        --login --pin 123456 -O 2>/dev/null | grep -A2 'Private Key' | grep -q station-key"
check_eq "no private key file in the station state" "" \
    "$(grep -rl 'PRIVATE KEY' "$ST" 2>/dev/null)"
check "the token key certified is the station key" bash -c \
    "cmp <(openssl x509 -in $ST/station.crt -noout -pubkey) \
         <(pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label station \
            --read-object --type pubkey --label station-key 2>/dev/null | openssl pkey -pubin -inform DER)"
check "CA consumed the one-time secret" test -f "$PKI/otp-used/station-01"

mkcsr alice "/O=Test/CN=Alice Example"
n0=$(grep -c 'POST /cmp ' "$T/nginx/access.log")
cli enroll --csr "$T/alice.csr" --profile piv-auth --out "$T/alice.crt" >"$T/out" 2>&1
check_eq "p10cr enroll exits 0" 0 $?
check_grep "CLI reports the serial" '^done: op 1 serial [0-9A-F]+' "$T/out"
check "card certificate chains to the test root" \
    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$T/alice.crt"
check "certificate certifies the CSR's key" bash -c \
    "cmp <(openssl x509 -in $T/alice.crt -noout -pubkey) <(openssl req -inform DER -in $T/alice.csr -noout -pubkey)"
serial=$(openssl x509 -in "$T/alice.crt" -noout -serial | cut -d= -f2)
check "CA holds the issued certificate" test -f "$PKI/issued/$serial.der"
check "the CA took it as confirmed" test -f "$PKI/confirmed/$serial"
# Implicit confirmation (ca.conf implicit_confirm, default yes; the test CA
# grants it): one message each way, no certConf; asked for card
# certificates only (the station's ir above kept its certConf: otp-used).
check_grep "the CA granted implicit confirmation for it" "implicitConfirm serial=$serial " "$T/testca.log"
check_eq "no certConf for it" 0 "$(grep -c "certConf serial=$serial " "$T/testca.log")"
check_eq "nginx saw one CMP request for it" 1 "$(( $(grep -c 'POST /cmp ' "$T/nginx/access.log") - n0 ))"
openssl x509 -in "$T/alice.crt" -noout -ext extendedKeyUsage,keyUsage >"$T/ext" 2>&1
check_grep "piv-auth profile: clientAuth" 'TLS Web Client Authentication' "$T/ext"

# implicit_confirm = no: the request does not ask, the certConf goes out.
echo "implicit_confirm = no" >>"$T/ca.conf"
mkcsr dave
cli enroll --csr "$T/dave.csr" --profile piv-auth --out "$T/dave.crt" >/dev/null 2>&1
check_eq "implicit_confirm = no: enrolled" 0 $?
sn=$(openssl x509 -in "$T/dave.crt" -noout -serial | cut -d= -f2)
check_grep "implicit_confirm = no: certConf for it" "certConf serial=$sn " "$T/testca.log"
check_eq "implicit_confirm = no: not granted unasked" 0 "$(grep -c "implicitConfirm serial=$sn " "$T/testca.log")"
set_conf implicit_confirm yes
# A CA that does not grant it gets its certConf all the same.
ca_stop; ca_start --implicit-confirm no
mkcsr erin
cli enroll --csr "$T/erin.csr" --profile piv-auth --out "$T/erin.crt" >/dev/null 2>&1
check_eq "a CA that does not grant: enrolled" 0 $?
sn=$(openssl x509 -in "$T/erin.crt" -noout -serial | cut -d= -f2)
check_grep "a CA that does not grant: certConf for it" "certConf serial=$sn " "$T/testca.log"
# A certificate the station refuses (already expired) under a granted
# implicit confirmation: no certConf can say so, so its revocation is
# journaled and sent (cessationOfOperation, on the CA's CRL).
ca_stop; ca_start --validity -100
mkcsr frank
cli enroll --csr "$T/frank.csr" --profile piv-auth >"$T/outf" 2>&1
check_eq "an expired certificate under implicit confirmation is refused (exit 1)" 1 $?
check_grep "saying why" 'certificate chain does not verify' "$T/outf"
sn=$(sed -n 's/.*implicitConfirm serial=\([0-9A-F]*\) .*/\1/p' "$T/testca.log" | tail -n 1)
check "the CA issued it and took it as confirmed" test -f "$PKI/confirmed/$sn"
cli outbox list >"$T/listf"
check_grep "its revocation is journaled" '^[0-9]+ revoke .*reason=cessationOfOperation' "$T/listf"
ca_stop; ca_start
cli outbox drain >"$T/drainf" 2>&1
check_eq "the CA revoked it, cessationOfOperation" 5 "$(cut -d' ' -f1 "$PKI/revoked/$sn" 2>/dev/null)"
openssl crl -inform DER -in "$PKI/crl.der" -noout -text 2>&1 |
    grep -A4 "Serial Number: $sn" >"$T/crlf"
check_grep "on the CA's CRL as cessationOfOperation" 'Cessation Of Operation' "$T/crlf"

mkcsr bob
cli enroll --csr "$T/bob.csr" --profile piv-sign --out "$T/bob.crt" >/dev/null 2>&1
openssl x509 -in "$T/bob.crt" -noout -ext keyUsage >"$T/ext2" 2>&1
check_grep "piv-sign profile: nonRepudiation" 'Non Repudiation' "$T/ext2"

mkcsr carol
cli enroll --csr "$T/carol.csr" --profile no-such-profile >"$T/out3" 2>&1
check_eq "unknown profile is refused (exit 1)" 1 $?
check_grep "refusal names the CA's reason" 'failed: op .*rejected' "$T/out3"
cli outbox list >"$T/list"
check_grep "outbox keeps the refusal as failed" '^[0-9]+ enroll failed .*profile=no-such-profile' "$T/list"

chmod 644 "$T/pin"
cli enroll --csr "$T/carol.csr" --profile piv-auth >"$T/out4" 2>&1
check_eq "a PIN file others can read: nothing sent, the request kept (exit 3)" 3 $?
check_grep "saying so" 'pin: secret file is accessible by group or others' "$T/out4"
chmod 600 "$T/pin"

# Secret files are checked on the descriptor they are read from: a symlink
# (even to a private file), a file of another user and a FIFO are refused,
# mode 600 or not, and nothing is sent.
cp -p "$T/pin" "$T/pin.real"; ln -s "$T/pin.real" "$T/pin.link"
cp -p "$T/pin" "$T/pin.other"; chown 65534 "$T/pin.other"
mkfifo -m 600 "$T/pin.fifo"
for f in link:'not a regular file' other:'owned by neither root nor the service user' \
    fifo:'not a regular file'; do
	set_conf pin_file "$T/pin.${f%%:*}"
	n=$(wc -l <"$T/testca.log")
	cli enroll --csr "$T/carol.csr" --profile piv-auth >"$T/out5" 2>&1
	check_eq "PIN file: ${f%%:*}: refused, the request kept (exit 3)" 3 $?
	check_grep "PIN file: ${f%%:*}: saying so" "pin.${f%%:*}: secret file .*${f#*:}" "$T/out5"
	check_eq "PIN file: ${f%%:*}: the CA saw nothing" "$n" "$(wc -l <"$T/testca.log")"
done
set_conf pin_file "$T/pin"
printf 'x\n' >"$T/otp.real"; ln -s "$T/otp.real" "$T/otp.link"
cli enroll-station --ref station-01 --secret-file "$T/otp.link" >"$T/out6" 2>&1
check_eq "a one-time secret file behind a symlink is refused (exit 1)" 1 $?
check_grep "saying so" 'otp.link: secret file is not a regular file' "$T/out6"

check_grep "nginx verified the station's client certificate" \
    '"POST /cmp HTTP/1.[01]" 200 verify=SUCCESS dn="CN=station-01,O=Test" proto=TLSv1.3' \
    "$T/nginx/access.log"
check_fails "nginx refuses a client without a certificate" \
    curl -sf --cacert "$PKI/root.crt" --data-binary @"$T/alice.csr" https://ca.test:8443/cmp
check_fails "enrollment endpoint refuses a request without a one-time secret" \
    openssl cmp -cmd ir -server ca.test:8441 -path cmp -tls_used -tls_trusted "$PKI/root.crt" \
        -ref nobody -secret pass:x -newkey "$T/alice.key" -subject /CN=x -trusted "$PKI/root.crt"
done_testing
