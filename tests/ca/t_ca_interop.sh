#!/bin/bash
# Interop both ways with OpenSSL's own CMP tools:
#  - the `openssl cmp` client against our test CA behind nginx (ir with PBM,
#    p10cr, kur, rr, genm), so the CA speaks standard CMP;
#  - the station's client against the `openssl cmp -port` mock server, so the
#    station speaks standard CMP, and rejects what the mock is told to break.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"
TLS=(-tls_used -tls_trusted "$PKI/root.crt")
MTLS=("${TLS[@]}" -tls_cert "$PKI/admin.crt" -tls_key "$PKI/admin.key")
TRUST=(-trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt")
ocmp() { openssl cmp "$@" >>"$T/ocmp.log" 2>&1; }

# --- openssl cmp client -> test CA (through nginx)
otp_add ext-01 ext-secret
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ext.key" 2>/dev/null
check "openssl cmp ir with PBM via the enrollment endpoint" \
    ocmp -cmd ir -server ca.test:8441 -path cmp "${TLS[@]}" -ref ext-01 -secret pass:ext-secret \
        -newkey "$T/ext.key" -subject "/O=Test/CN=ext-01" -trusted "$PKI/root.crt" -certout "$T/ext.crt"
check "its certificate verifies" openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$T/ext.crt"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/card.key" \
    -subj "/O=Test/CN=card" -out "$T/card.csr" 2>/dev/null
check "openssl cmp p10cr over mutual TLS" \
    ocmp -cmd p10cr -server ca.test:8443 -path cmp "${MTLS[@]}" -cert "$PKI/admin.crt" \
        -key "$PKI/admin.key" "${TRUST[@]}" -csr "$T/card.csr" -certout "$T/card.crt"
check "the p10cr certificate verifies" openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$T/card.crt"
check "openssl cmp kur (ext-01 renews itself)" \
    ocmp -cmd kur -server ca.test:8443 -path cmp "${MTLS[@]}" -cert "$T/ext.crt" -key "$T/ext.key" \
        "${TRUST[@]}" -newkey "$T/ext.key" -certout "$T/ext2.crt"
check "kur gave a new serial" test "$(openssl x509 -in "$T/ext.crt" -noout -serial)" != \
    "$(openssl x509 -in "$T/ext2.crt" -noout -serial)"
check "openssl cmp rr (superseded)" \
    ocmp -cmd rr -server ca.test:8443 -path cmp "${MTLS[@]}" -cert "$PKI/admin.crt" \
        -key "$PKI/admin.key" "${TRUST[@]}" -oldcert "$T/card.crt" -revreason 4
check_grep "the CA's CRL lists it as superseded" 'Superseded' \
    <(curl -sf http://ca.test:8080/crl | openssl crl -inform DER -noout -text)
check "openssl cmp genm" \
    ocmp -cmd genm -server ca.test:8443 -path cmp "${MTLS[@]}" -cert "$PKI/admin.crt" \
        -key "$PKI/admin.key" "${TRUST[@]}"
check_grep "genp carries caCerts" 'genp contains ITAV of type: id-it-caCerts' "$T/ocmp.log"
check_fails "openssl cmp without a TLS client certificate is refused by nginx" \
    ocmp -cmd genm -server ca.test:8443 -path cmp "${TLS[@]}" -cert "$PKI/admin.crt" \
        -key "$PKI/admin.key" "${TRUST[@]}"

# --- station client -> openssl cmp mock server
check "station enrolled (test CA)" enroll_station
mkcsr mock
openssl x509 -req -inform DER -in "$T/mock.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial 0x4242 -days 30 -out "$T/mock.crt" 2>/dev/null
mock_start() {	# extra mock options
	openssl cmp -port 1700 -srv_cert "$PKI/ca.crt" -srv_key "$PKI/ca.key" \
	    -srv_trusted "$PKI/chain.pem" -rsp_cert "$T/mock.crt" -rsp_extracerts "$PKI/ca.crt" \
	    "$@" >>"$T/mock.log" 2>&1 &
	echo $! >"$T/pids/mock"
	wait_port 1700
}
mock_stop() { kill "$(cat "$T/pids/mock")"; wait "$(cat "$T/pids/mock")" 2>/dev/null; rm -f "$T/pids/mock"; }
cp "$T/ca.conf" "$T/ca.conf.tls"
set_conf port 1700; set_conf path pkix/
echo "plain_http = yes" >>"$T/ca.conf"
mock_start
cli enroll --csr "$T/mock.csr" --profile piv-auth --out "$T/got.crt" >"$T/out" 2>&1
check_eq "station p10cr against the openssl mock server" 0 $?
check "the station got the mock's certificate" cmp <(openssl x509 -in "$T/got.crt" -outform DER) \
    <(openssl x509 -in "$T/mock.crt" -outform DER)
check_eq "the mock got two requests: p10cr and certConf" 2 \
    "$(grep -c 'Received request' "$T/mock.log")"
check "station rr against the mock" cli revoke --cert "$T/mock.crt" --reason keyCompromise
mock_stop

mock_start -send_unprotected
cli enroll --csr "$T/mock.csr" --profile piv-auth >"$T/out" 2>&1
check_eq "unprotected mock responses: kept for retry (exit 3)" 3 $?
check_grep "with the reason" 'invalid CMP response.*protection' "$T/out"
mock_stop
mock_start -pkistatus 2 -failure 9
cli outbox drain >"$T/out" 2>&1
check_grep "a rejecting mock: the operation fails for good" '1 failed' "$T/out"
cli outbox list >"$T/list"
check_grep "with the CA's status in the record" 'enroll failed .*(rejection|rejected)' "$T/list"
mock_stop
done_testing
