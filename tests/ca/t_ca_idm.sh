#!/bin/bash
# Layer 5: every issued certificate is pushed to the identity manager (HTTPS
# POST, Content-Type application/pkix-cert, body base64 DER, mutual TLS), as
# its own journaled operation: an identity manager that is down delays the
# push, never the enrollment, and the push drains later.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }

check "station enrolled" enroll_station
mkcsr a
check "enroll with the identity manager configured" \
    cli enroll --csr "$T/a.csr" --profile piv-auth --out "$T/a.crt"
check_eq "the identity manager stored one push" 1 "$(ls "$PKI/idm" | wc -l)"
f=$(ls "$PKI/idm"/* | head -n 1)
check "the body is the base64 of the certificate's DER" \
    cmp <(base64 -d "$f") <(openssl x509 -in "$T/a.crt" -outform DER)
check_grep "pushed over mutual TLS (nginx saw the station's certificate)" \
    '"POST /idm HTTP/1.[01]" 200 verify=SUCCESS dn="CN=station-01,O=Test"' "$T/nginx/access.log"
check_grep "with Content-Type application/pkix-cert (the endpoint refuses others)" \
    'idm push stored' "$T/testca.log"
check_fails "the endpoint refuses another content type" \
    curl -sf --cacert "$PKI/root.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        -H 'Content-Type: text/plain' --data x https://ca.test:8443/idm

# The identity manager (here: the /idm location) fails: enrollment still works.
sed -i 's|^idm_url = .*|idm_url = https://ca.test:8443/idm-down|' "$T/ca.conf"
mkcsr b
cli enroll --csr "$T/b.csr" --profile piv-auth --out "$T/b.crt" >"$T/out" 2>&1
check_eq "enrollment succeeds while the push cannot" 0 $?
cli outbox list >"$T/list"
check_grep "the push is kept pending with its error" '^[0-9]+ push pending .*last_error=.*code=502' "$T/list"
sed -i 's|^idm_url = .*|idm_url = https://ca.test:8443/idm|' "$T/ca.conf"
check "the push drains when the identity manager is back" cli outbox drain
check_eq "now two pushes stored" 2 "$(ls "$PKI/idm" | wc -l)"
check "the second push is b's certificate" bash -c \
    "for f in $PKI/idm/*; do base64 -d \$f | cmp -s - <(openssl x509 -in $T/b.crt -outform DER) && exit 0; done; exit 1"

# The identity manager's front is down (nothing listens on its port): the
# push says "connection refused" at once, under its own error code, and
# stays pending (OpenSSL's own connect retried the refusal until the whole
# timeout and said "connect timeout").
sed -i 's|^idm_url = .*|idm_url = https://ca.test:8446/idm|' "$T/ca.conf"
mkcsr c
cli enroll --csr "$T/c.csr" --profile piv-auth --out "$T/c.crt" >"$T/out" 2>&1
check_eq "IdM front down: the enrollment still succeeds" 0 $?
check_grep "the push is kept under its own error code" \
    '^[0-9]+ push pending .*err=CAIDM_ERR_CONNREFUSED last_error=connection refused: ca.test:8446$' \
    <(cli outbox list --pending)
cli outbox drain >"$T/drain" 2>&1
check_eq "IdM front down: the drain keeps the push (exit 3)" 3 $?
check_grep "and reports the refusal" \
    '^cardmgr-ca: op [0-9]+ kept for a retry: connection refused: ca.test:8446$' "$T/drain"
sed -i 's|^idm_url = .*|idm_url = https://ca.test:8443/idm|' "$T/ca.conf"
check "the push drains when the front is back" cli outbox drain
check_eq "now three pushes stored" 3 "$(ls "$PKI/idm" | wc -l)"
done_testing
