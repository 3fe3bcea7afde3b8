#!/bin/bash
# Canary secrets through every operation of the release daemon: the holder's
# PINs, the challenge answers, the card's diversified 9B key and PUK (both
# recomputed here in the token with pkcs11-tool, an independent path), and the
# token PIN. None may be found afterwards in the logs, the LMDB files, any
# process's /proc/PID/cmdline or environ, or a core dump of each of the five
# processes (keyd's PKCS#11 helper included) taken after the operations
# (gcore: a missing wipe is caught, not only a missing log filter). keyd keeps
# the token PIN for the helper's restarts, sealed (PROT_NONE pages, which a
# core dump leaves out; docs/daemon.md, "Vendor PKCS#11 modules").
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
REL=$TOP/build/release/bin
[ -x "$REL/cardmgrd" ] || { echo "# no release build"; exit 77; }
BIN_ASAN=$BIN
BIN=$REL	# gcore needs a plain build: ASan's shadow maps are terabytes
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private

PIN1=739164 PIN2=582047 PIN3=916283
A=(q1="Canary Alpha Answer" q2="Canary Bravo Answer" q3="Canary Charlie Answer"
   q4="Canary Delta Answer" q5="Canary Echo Answer")
vcard_insert 0 "$T/card0.state" --create --serial 9001 >/dev/null
cm officer holders add --id C1 --name "Carl Canary" --email carl@example.com >/dev/null
printf '%s\n' $PIN1 "Canary Alpha Answer" "Canary Bravo Answer" "Canary Charlie Answer" \
    "Canary Delta Answer" "Canary Echo Answer" >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder C1 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/i.json"
check_eq "issue" done "$(wait_op "$(json "$T/i.json" 'j["operation"]')")"
printf '%s\n' $PIN1 $PIN2 $PIN2 >"$T/s"
check "PIN change" cm nobody --secrets-fd 3 pin-change 9001 --reader "$R" 3<"$T/s"
for i in 1 2 3; do p11tool --login --pin 000000 --list-objects >/dev/null 2>&1; done
printf '%s\n' "${A[@]}" $PIN3 >"$T/s"
check "unblock" cm helpdesk --secrets-fd 3 unblock 9001 --reader "$R" 3<"$T/s"
check "OpenSC takes the unblocked PIN" p11tool --login --pin $PIN3 --list-objects
guid=$(cm auditor --json cards show 9001 | python3 -c 'import json,sys; print(json.load(sys.stdin)["guid"])')

# The card's 9B key and PUK, recomputed in the token (docs/keystore.md).
hmac() {	# purpose-hex outlen-hex -> hex of the HMAC
	printf 'cardmgr div v1' >"$T/div"
	printf '%s%s%s' "$1" "$guid" "$2" | xxd -r -p >>"$T/div"
	pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label station \
	    --login --pin "$(cat "$T/pin")" --sign -m SHA256-HMAC --label cardmgr-master-v1 \
	    -i "$T/div" -o "$T/hmac" >/dev/null 2>&1 && xxd -p "$T/hmac" | tr -d '\n'
}
MK=$(hmac 0a 18 | cut -c1-48)
check "the diversified 9B key recomputed in the token (${#MK} hex digits)" test ${#MK} = 48
check "and it is the card's: ykman authenticates with it" \
    ykman --reader "$R" piv access change-management-key -a AES192 -m "$MK" -n "$MK" -f
PUK=$(python3 -c "import sys; print('%08d' % (int(sys.argv[1][:16], 16) % 10**8))" "$(hmac 81 08)")
check "the diversified PUK recomputed in the token is the card's" \
    yubico-piv-tool -r "$R" -a change-puk -P "$PUK" -N "$PUK"
TOKENPIN=$(cat "$T/pin")

check "retire (card present)" cm security retire 9001 --reason retire --reader "$R"

# Every process of the daemon, dumped after the operations.
pids=$(pgrep -f "$REL/cardmgrd")
check_eq "five cardmgrd processes (keyd's PKCS#11 helper too)" 5 "$(echo "$pids" | wc -w)"
for p in $pids; do
	u=$(stat -c %U /proc/$p)
	[ "$(cat /proc/$p/comm)" = p11h ] && u=$u-p11h
	gcore -o "$T/core.$u" "$p" >/dev/null 2>&1
	check "core dump of the $u process" test -s "$T/core.$u.$p"
	tr '\0' ' ' </proc/$p/cmdline >"$T/cmdline.$u"
	tr '\0' '\n' </proc/$p/environ >"$T/environ.$u"
done
mgmt_bin=$(printf '%s' "$MK" | xxd -r -p | base64)
find_canary() {	# file: 0 if no canary in it (prints what it found)
	python3 - "$1" "$mgmt_bin" "$PIN1" "$PIN2" "$PIN3" "$PUK" "$TOKENPIN" \
	    "canary alpha answer" "Canary Alpha Answer" "canary echo answer" <<'PY'
import base64, sys
data = open(sys.argv[1], 'rb').read()
found = []
if base64.b64decode(sys.argv[2]) in data:
    found.append('9B key')
for c in sys.argv[3:]:
    if c.encode() in data:
        found.append(c)
print(' '.join(found))
sys.exit(1 if found else 0)
PY
}
for f in "$T"/core.* "$T"/cmdline.* "$T"/environ.* "$T/cardmgrd.log"; do
	check "no canary in $(basename "$f")" find_canary "$f"
done
for f in "$T"/inv/*.mdb; do
	check "no canary in the inventory's $(basename "$f")" find_canary "$f"
done
: "$BIN_ASAN"
done_testing
