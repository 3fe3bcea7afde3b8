#!/bin/bash
# station-setup.sh CONF [REF SECRET_FILE]
#
# First start and daily upkeep of the station's CA identity, idempotent:
#  - no station certificate yet: generate the key in the token and enroll
#    with the one-time secret (CMP ir, password-based MAC), then wipe the
#    secret file (it is single use);
#  - fetch the CA certificates (genm) and the CRL (verified, cached);
#  - renew the station certificate when it is within renew_before of expiry;
#  - with SoftHSM2 (the default token), copy the token directory to
#    $CARDMGR_TOKEN_BACKUP (default STATE_DIR/token-backup) once every step
#    worked, so the copy holds the current station key (token-backup.sh;
#    a damaged token is never copied over a good backup).
# Exit status: that of the first failing step (4: the station's certificate is
# revoked or expired and the station no longer issues; 5: the station token
# is damaged or missing: token-backup.sh restore, or re-enroll).
set -u
conf=${1:?usage: station-setup.sh CONF [REF SECRET_FILE]}
ca=${CARDMGR_CA:-cardmgr-ca}
state=$(sed -n 's/^state_dir *= *\([^ #]*\).*/\1/p' "$conf")
mkdir -p "$state" && chmod 700 "$state"
if [ ! -f "$state/station.crt" ]; then
	ref=${2:?not enrolled yet: give REF SECRET_FILE}
	secret=${3:?not enrolled yet: give REF SECRET_FILE}
	"$ca" -c "$conf" enroll-station --ref "$ref" --secret-file "$secret" || exit $?
	shred -u "$secret" 2>/dev/null || rm -f "$secret"
fi
"$ca" -c "$conf" cacerts || exit $?
"$ca" -c "$conf" crl-update || exit $?
"$ca" -c "$conf" renew-station || exit $?
case $(sed -n 's/^pkcs11_module *= *\([^ #]*\).*/\1/p' "$conf") in
*libsofthsm2.so)
	bash "$(dirname "$0")/token-backup.sh" backup "$conf" \
	    ${CARDMGR_TOKEN_BACKUP:+"$CARDMGR_TOKEN_BACKUP"} || exit $?
	;;
esac
