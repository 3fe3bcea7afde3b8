#!/bin/bash
# provisioning/station-setup.sh: first start enrolls (key in the token, the
# one-time secret wiped), fetches caCerts and the CRL; a second run changes
# nothing at the CA; with a short-lived certificate it renews.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
export CARDMGR_CA=$BIN/cardmgr-ca
setup() { bash "$TOP/provisioning/station-setup.sh" "$T/ca.conf" "$@"; }

check_fails "first start without a one-time secret fails" setup
otp_add station-01 first-start
printf 'first-start\n' >"$T/otp"
check "first start enrolls" setup station-01 "$T/otp"
check "the secret file is wiped" test ! -e "$T/otp"
check "station certificate verifies" \
    openssl verify -CAfile "$PKI/root.crt" -untrusted "$PKI/ca.crt" "$ST/station.crt"
check "caCerts cached" test -s "$ST/cacerts.pem"
check "CRL cached" test -s "$ST/crl.der"
n=$(issued_count)
check "a second run succeeds" setup
check_eq "and issues nothing (renewal not due)" "$n" "$(issued_count)"
old=$(openssl x509 -in "$ST/station.crt" -noout -serial)
ca_stop; ca_start --validity 86400
check "renew-station --force to a 1-day certificate" cli renew-station --force
mid=$(openssl x509 -in "$ST/station.crt" -noout -serial)
check "the daily run renews a certificate inside the window" setup
check "it is a new certificate" test "$mid" != "$(openssl x509 -in "$ST/station.crt" -noout -serial)" -a "$old" != "$mid"
done_testing
