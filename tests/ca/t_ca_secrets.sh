#!/bin/bash
# Secrets stay secret: the one-time secret (right or wrong) and the token PIN
# appear in no output of cardmgr-ca, no file of the station's state directory
# (LMDB included), no log of nginx or the CA, and no CMP message on the wire
# (an ir carries a password-based MAC of the secret, never the secret).
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"

# Values nothing else in the run contains by chance.
PIN=pin-7c41e9d2
OTP=otp-5b93a0f6e1
WRONG=wrong-3e8f0c71a2
softhsm2-util --init-token --free --label secrets --pin "$PIN" \
    --so-pin so-8d2b61f4 >>"$T/softhsm.log" 2>&1
printf '%s\n' "$PIN" >"$T/pin"
sed -i 's/^token = .*/token = secrets/' "$T/ca.conf"
mkdir -p "$T/wire"
ca_stop; ca_start --dump "$T/wire"

log=$T/cli.log
run() { echo "\$ cardmgr-ca $*" >>"$log"; cli "$@" >>"$log" 2>&1; }
secrets_in() {	# FILE|DIR...: the files holding a secret in clear
	grep -rlaF -e "$PIN" -e "$OTP" -e "$WRONG" "$@" 2>/dev/null
}

otp_add station-01 "$OTP"
printf '%s\n' "$WRONG" >"$T/bad"
printf '%s\n' "$OTP" >"$T/good"
run enroll-station --ref station-01 --secret-file "$T/bad"
check_eq "a wrong one-time secret is refused for good (exit 1)" 1 $?
run enroll-station --ref station-01 --secret-file "$T/good"
check_eq "the right one enrolls" 0 $?
rm -f "$ST/station.crt"
check_fails "a used one fails" run enroll-station --ref station-01 --secret-file "$T/good"
otp_add station-01 "$OTP"
run enroll-station --ref station-01 --secret-file "$T/good"
check_eq "re-enrollment (new key, same kind of secret)" 0 $?
run renew-station --force
check_eq "renewal with the token PIN" 0 $?
mkcsr c1
run enroll --csr "$T/c1.csr" --profile piv-auth --out "$T/c1.crt"
check_eq "an enrollment" 0 $?
run enroll --queue --csr "$T/c1.csr" --profile piv-auth
run outbox drain
check_eq "a journaled enrollment drained" 0 $?
run cacerts; run crl-update; run status
# A PIN file too long to be a PIN: refused without echoing it.
printf '%s%0300d\n' "$PIN" 0 >"$T/pin"
run renew-station --force
check_eq "an oversized PIN file is refused" 1 $?
printf '%s\n' "$PIN" >"$T/pin"

check_eq "the search finds a secret where there is one" "$T/good" "$(secrets_in "$T/good")"
check_grep "cardmgr-ca's output was captured" '^station certificate: serial ' "$log"
check_eq "no secret in cardmgr-ca's output" "" "$(secrets_in "$log")"
check "the state directory holds the outbox" test -s "$ST/outbox/data.mdb"
check_eq "none in the state directory (LMDB files included)" "" "$(secrets_in "$ST")"
check_eq "none in a dump of the outbox" 0 \
    "$(mdb_dump -p -a "$ST/outbox" | grep -cF -e "$PIN" -e "$OTP" -e "$WRONG")"
check_eq "none in nginx's logs or the CA's" "" "$(secrets_in "$T/nginx" "$T/testca.log")"
check "the CA kept the CMP messages" test -n "$(ls -A "$T/wire" | head -n 1)"
check_eq "none on the wire" "" "$(secrets_in "$T/wire")"
done_testing
