#!/bin/bash
# make demo / make demo-stop.
#
# A pcscd with vsmartcard vpcd readers and one blank virtual PIV card in reader
# 0; the local test CA behind nginx with the station enrolled; and cardmgrd
# (tests/demo_station.sh), left running. If a pcscd is already running (e.g.
# Debian's socket-activated one, which reads /etc/reader.conf.d/vpcd), the card
# is plugged into its first vpcd reader; otherwise the demo starts its own
# pcscd with 4 virtual readers. State lives in build/demo/ (DEMO_DIR): card
# files, logs, pids; the station's own files in /run/cardmgr-demo
# (DEMO_STATION_DIR). DEMO_OPERATOR_UID (default 2001)
# is the uid the operator map gives every role.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
D=${DEMO_DIR:-$top/build/demo}
SD=${DEMO_STATION_DIR:-/run/cardmgr-demo}
BIN=${BIN:-$top/build/release/bin}
VCARDCTL="$top/tests/vcard/vcardctl"
export VCARD="$BIN/vcard"
VPCD_SO=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PORT0=35963

die() { echo "demo: $*" >&2; exit 1; }

write_readers() {
	local i port
	mkdir -p "$D/readers" "$D/drivers"
	for i in 0 1; do
		port=$((PORT0 + 2 * i))
		cp "$VPCD_SO" "$D/drivers/libifdvpcd$i.so"
		printf 'FRIENDLYNAME "Virtual PCD %d"\nDEVICENAME /dev/null:%d\nLIBPATH %s\nCHANNELID %d\n' \
		    "$i" "$port" "$D/drivers/libifdvpcd$i.so" "$port" >"$D/readers/vpcd$i"
	done
}

start_pcscd() {
	# A pcscd answering on this mount namespace's socket (Debian's socket-activated
	# one, say). pgrep would also see pcscds in test namespaces, which are not ours.
	if [ -S /run/pcscd/pcscd.comm ] && opensc-tool -l >/dev/null 2>&1; then
		echo "demo: using the pcscd that is already running"
		return
	fi
	write_readers
	mkdir -p /run/pcscd
	setsid pcscd -f -c "$D/readers" >"$D/pcscd.log" 2>&1 </dev/null &
	echo $! >"$D/pcscd.pid"
	for _ in $(seq 50); do
		opensc-tool -l 2>/dev/null | grep -q 'Virtual PCD' && return
		sleep 0.1
	done
	die "pcscd did not come up; see $D/pcscd.log"
}

first_vpcd_reader() {
	opensc-tool -l 2>/dev/null | sed -n 's/^[0-9]\+ \+[A-Za-z]\+ \+\(Virtual PCD.*\)$/\1/p' | head -n 1
}

start() {
	[ -x "$VCARD" ] || die "$VCARD not built (run make)"
	[ -x "$VCARDCTL" ] || die "$VCARDCTL missing"
	mkdir -p "$D"
	start_pcscd
	"$VCARDCTL" -d "$D/run" remove 0 >/dev/null 2>&1 || true
	"$VCARDCTL" -d "$D/run" insert 0 "$D/card0.state" --create --trace "$D/card0.trace" \
	    || die "could not insert the virtual card"
	local reader; reader=$(first_vpcd_reader)
	# The service users must reach the station's files: not under a home
	# directory they cannot enter, so /run unless DEMO_STATION_DIR says.
	local uid=${DEMO_OPERATOR_UID:-2001} S=$SD
	stop_station
	rm -rf "$S"
	mkdir -p "$S"
	unshare --mount --propagation private "$top/tests/demo_station.sh" "$S" "$BIN" "$uid" \
	    || die "the station did not start; see $S/*.log"
	# Issuance takes blank cards only from stock: the demo's card is
	# received first, scanned in its reader (docs/lifecycle.md).
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$BIN/cardmgr" \
	    -s "$S/run/api.sock" stock receive --model piv-yubico --location demo \
	    --reader "$reader" >/dev/null || die "could not receive the card into stock"
	cat <<TXT

The station demo is running: pcscd, a blank virtual PIV card, the test CA behind
nginx (station enrolled), and cardmgrd (api, engine and keyd processes).

  Reader:  $reader
  Card:    $D/card0.state  (factory PIN 123456, PUK 12345678,
           3DES management key 010203040506070801020304050607080102030405060708)

As the demo operator (uid $uid: badge officer, help desk, security officer, auditor):
  alias cm='setpriv --reuid=$uid --regid=$uid --clear-groups $BIN/cardmgr -s $S/run/api.sock'
  cm status
  cm readers
  cm stock levels                   # the card in reader 0 was received into stock
  cm holders add --id E100 --name "Jane Doe" --email jane@example.com
  cm --wait issue --reader "$reader" --holder E100 --profile employee \
      --question 1 --question 2 --question 3 --question 4 --question 5
      (type a new PIN twice, e.g. 461937, then five answers)
  cm op show 1                      # the issuance's journal again
  cm cards show CARD                # CARD: the serial "cards list" shows
  cm pin-change CARD --reader "$reader"
  cm unblock CARD --reader "$reader" # answer the questions asked
  cm retire CARD --reason retire --reader "$reader"
  cm audit verify
Logs: $S/cardmgrd.log, $S/testca.log; the kiosk API: http://127.0.0.1:8410/v1/status
The kiosk UI: http://127.0.0.1:8410/ in a browser on this machine (a holder's PIN change;
  the operator journeys after an operator logs in with their card)

Try the stock clients:
  opensc-tool -l
  yubico-piv-tool -r "$reader" -a status
  ykman --reader "$reader" piv info
  pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so -L

Cards at run time (as a person at the reader would):
  $VCARDCTL -d $D/run list
  $VCARDCTL -d $D/run remove 0
  $VCARDCTL -d $D/run insert 1 $D/card1.state --create
  cm stock receive --model piv-yubico --location demo --reader "Virtual PCD 1 00 00"   # before issuing it

Stop everything:  make demo-stop
TXT
}

stop_station() {
	local f
	for f in "$SD"/pids/cardmgrd "$SD"/pids/nginx "$SD"/pids/testca; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

stop() {
	stop_station
	[ -d "$D" ] || return 0
	"$VCARDCTL" -d "$D/run" remove-all >/dev/null 2>&1 || true
	for f in "$D"/run/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	if [ -f "$D/pcscd.pid" ]; then
		kill "$(cat "$D/pcscd.pid")" 2>/dev/null || true
		rm -f "$D/pcscd.pid"
	fi
	echo "demo: stopped"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) die "usage: demo.sh start|stop" ;;
esac
