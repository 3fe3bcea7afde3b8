#!/bin/bash
# make bench: APDUs and bytes to issue one full card (4 keys: 9A/9D RSA-2048,
# 9C/9E P-256; 4 CA-signed certificates; CHUID; CCC; PIN and PUK change) with
# this station's drivers library (drvtool issue) and with yubico-piv-tool doing
# the same steps, each on its own virtual card in the same run. Counts come from
# the cards' --trace totals, so both sides are measured the same way.
#   tests/bench_drivers.sh BUILD_DIR
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$(cd "${1:?usage: bench_drivers.sh BUILD_DIR}" && pwd)/bin}
export TOP BIN
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@" || exit 1
. "$TOP/tests/drivers/lib.sh"
R1=$(reader_name 1)
NEWPIN=24681357 NEWPUK=86427531
make_ca

# totals TRACEFILE: "apdus cmd_bytes rsp_bytes" from the card's last totals line.
totals() {
	sed -n 's/^vcard-trace-totals apdus=\([0-9]*\) cmd_bytes=\([0-9]*\) rsp_bytes=\([0-9]*\).*/\1 \2 \3/p' \
	    "$1" | tail -n 1
}

# --- this library: one drvtool process
vcard_insert 0 "$T/drv.state" --create --serial 100 --trace "$T/drv.trace" >/dev/null
t0=$(date +%s.%N)
drvs newpin=$NEWPIN newpuk=$NEWPUK -- -s issue "$T/ca.key" "$T/ca.crt" >"$T/drv.out" 2>&1 ||
    { echo "drvtool issue failed:"; cat "$T/drv.out"; exit 1; }
t1=$(date +%s.%N)
vcard_remove 0

# --- yubico-piv-tool: the same steps, as few invocations as it allows
vcard_insert 1 "$T/ypt.state" --create --serial 200 --trace "$T/ypt.trace" >/dev/null
y() { yubico-piv-tool -r "$R1" "$@" >>"$T/ypt.out" 2>&1 ||
    { echo "yubico-piv-tool $* failed:"; tail "$T/ypt.out"; exit 1; }; }
t2=$(date +%s.%N)
for spec in 9a:RSA2048 9c:ECCP256 9d:RSA2048 9e:ECCP256; do
	slot=${spec%:*}
	y -s "$slot" -A "${spec#*:}" -a generate -o "$T/$slot.pub"
	openssl x509 -new -subj "/CN=slot ${slot^^}" -force_pubkey "$T/$slot.pub" \
	    -CA "$T/ca.crt" -CAkey "$T/ca.key" -days 365 -out "$T/$slot.crt" 2>/dev/null
	y -s "$slot" -a import-certificate -i "$T/$slot.crt"
done
y -a set-chuid -a set-ccc
y -a change-pin -P 123456 -N $NEWPIN
y -a change-puk -P 12345678 -N $NEWPUK
t3=$(date +%s.%N)
vcard_remove 1

read -r da dc dr <<<"$(totals "$T/drv.trace")"
read -r ya yc yr <<<"$(totals "$T/ypt.trace")"
self=$(sed -n 's/^stats //p' "$T/drv.out")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '%-22s %12s %16s %8s\n' "full issuance" "drivers" "yubico-piv-tool" "ratio"
printf '%-22s %12s %16s %8s\n' "APDUs" "$da" "$ya" "$(ratio "$da" "$ya")"
printf '%-22s %12s %16s %8s\n' "bytes to card" "$dc" "$yc" "$(ratio "$dc" "$yc")"
printf '%-22s %12s %16s %8s\n' "bytes from card" "$dr" "$yr" "$(ratio "$dr" "$yr")"
printf '%-22s %12s %16s %8s\n' "wall seconds (info)" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" \
    "$(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.2f", b-a}')" \
    "$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN{printf "%.2f", (b-a)/(d-c)}')"
echo "drivers' own counters: $self (the card's trace says apdus=$da sent=$dc received=$dr)"
