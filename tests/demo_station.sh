#!/bin/bash
# make demo, the station part (run by tests/demo.sh in a private mount
# namespace whose /etc/hosts names ca.test): the test PKI and CA behind nginx,
# a SoftHSM2 token, the station enrolled with the CA, the service users, and
# cardmgrd with the shipped profiles. Everything lives in $T (build/demo/station)
# and keeps running after this script ends; demo.sh stop ends it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export TOP=$top T=$1 BIN=$2 OPERATOR_UID=$3
export PKI=$T/ca ST=$T/state
. "$top/tests/ca/caenv.sh"
umask 077
mkdir -p "$T/pids" "$T/nginx" "$ST" "$T/etc/profiles" "$T/run"
chmod 755 "$T" "$T/run"
printf '127.0.0.1 localhost ca.test other.test\n' >"$T/hosts"
chmod 644 "$T/hosts"
mount --bind "$T/hosts" /etc/hosts
bash "$top/tests/ca/mkpki.sh" "$PKI" >"$T/mkpki.log" 2>&1
caenv_token station
caenv_conf "$T/ca.conf" "$ST" 8443
# Started with setsid: they outlive this script (demo.sh stop ends them).
ca_start() {
	setsid "$BIN/testca" --state "$PKI" --port 8080 --crl-url http://ca.test:8080/crl \
	    >>"$T/testca.log" 2>&1 </dev/null &
	echo $! >"$T/pids/testca"
	wait_port 8080
}
nginx_start() {
	sed -e "s|@T@|$T|g" -e "s|@PKI@|$PKI|g" "$top/tests/ca/nginx.conf.in" >"$T/nginx.conf"
	setsid nginx -p "$T/nginx" -c "$T/nginx.conf" -e "$T/nginx/error.log" \
	    -g 'daemon off;' >>"$T/nginx.out" 2>&1 </dev/null &
	echo $! >"$T/pids/nginx"
	wait_port 8443
}
ca_start
nginx_start
enroll_station >"$T/enroll.log" 2>&1
"$top/firmware/users.sh"
chmod 755 "$PKI"
chmod 644 "$PKI"/*.crt "$SOFTHSM2_CONF"
chown -R cardmgr-keyd: "$T/tokens"
chown -R cardmgr-engine: "$ST"
cp "$top"/provisioning/profiles/* "$T/etc/profiles/"
cp "$top/provisioning/lifecycle.conf" "$T/etc/lifecycle.conf"
cat >"$T/etc/operators.conf" <<OPS
operators = (
  { uid = $OPERATOR_UID; name = "Demo Operator";
    roles = [ "badge_officer", "helpdesk", "security_officer", "auditor" ]; }
);
OPS
cat >"$T/etc/cardmgrd.conf" <<CONF
state_dir = "$T/inv";
profiles_dir = "$T/etc/profiles";
operators = "$T/etc/operators.conf";
lifecycle = "$T/etc/lifecycle.conf";
ca_conf = "$T/ca.conf";
api_port = 8410;
api_socket = "$T/run/api.sock";
keyd_ledger = "$T/keyd/exported";
ui_dir = "$top/kiosk-ui";
stock = { location = "demo"; thresholds = ( { model = "piv-yubico"; location = "demo"; min = 2; } ); };
CONF
chmod -R go-w "$T/etc"
SOFTHSM2_CONF=$SOFTHSM2_CONF setsid "$BIN/cardmgrd" -c "$T/etc/cardmgrd.conf" \
    >>"$T/cardmgrd.log" 2>&1 </dev/null &
echo $! >"$T/pids/cardmgrd"
for _ in $(seq 100); do
	setpriv --reuid="$OPERATOR_UID" --regid="$OPERATOR_UID" --clear-groups \
	    "$BIN/cardmgr" -s "$T/run/api.sock" status >/dev/null 2>&1 && exit 0
	sleep 0.1
done
echo "demo: cardmgrd did not come up; see $T/cardmgrd.log" >&2
exit 1
