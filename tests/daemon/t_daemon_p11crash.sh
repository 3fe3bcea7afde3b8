#!/bin/bash
# A crash in the station token's vendor PKCS#11 module does not take the
# station down: keyd runs the module in its PKCS#11 helper (cardmgr/keyd/kh.h,
# docs/daemon.md "Vendor modules"). With tests/keyd/crash_pkcs11.c (SoftHSM2
# wrapped; its C_Sign dereferences NULL while a flag file exists, or never
# returns when the file says "hang"):
#   - an issuance, which makes keyd sign (the CA link's TLS client key, the
#     audit checkpoint), fails with "station token unavailable: module
#     crashed", and the log names the signal;
#   - cardmgrd, keyd and the engine keep their pids and keep answering
#     (status, the inventory); the helper is restarted (a new pid);
#   - with the crash switched off, the next issuance succeeds, without
#     restarting cardmgrd: the card reads back through yubico-piv-tool;
#   - a module that hangs in C_Sign is killed after keyd's timeout and the
#     request fails the same way.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
CRASH=$BIN/crash_pkcs11.so
FLAG=$T/p11crash.flag
check "the crashing module was built" test -f "$CRASH"
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null

# helper_pid: the process of keyd's user that is not keyd (the helper).
kpid() { pgrep -u cardmgr-keyd -f "cardmgrd -d -c $T/" | sort -n; }
keyd_pid() { kpid | head -n 1; }
helper_pid() { kpid | tail -n +2 | head -n 1; }
engine_pid() { pgrep -u cardmgr-engine -f "cardmgrd -d -c $T/" | sort -n | head -n 1; }

daemon_stop
real=$(sed -n 's/^pkcs11_module *= *\([^ #]*\).*/\1/p' "$T/ca.conf")
check "ca.conf names the token's module ($real)" test -n "$real"
sed -i "s|^pkcs11_module *=.*|pkcs11_module = $CRASH|" "$T/ca.conf"
: >"$T/cardmgrd.log"
: >"$FLAG"
chmod 644 "$FLAG"
CRASH_PKCS11_REAL=$real CRASH_PKCS11_FLAG=$FLAG daemon_start >/dev/null 2>&1
pid=$(cat "$T/pids/cardmgrd" 2>/dev/null)
check "the station starts on the crashing module (C_Sign is not called yet)" kill -0 "$pid"
k0=$(keyd_pid) h0=$(helper_pid) e0=$(engine_pid)
check "keyd runs the module in a helper process (keyd $k0, helper $h0)" \
    test -n "$h0" -a "$h0" != "$k0"
check_grep "keyd says so" 'PKCS#11 helper [0-9]+: token open' "$T/cardmgrd.log"

# ---- a crash in C_Sign: the issuance fails, the station serves on
vcard_insert 0 "$T/card0.state" --create --serial 6101 >/dev/null
op=$(issue_temp "$R" 6101 482916)
check "the issuance was accepted (operation $op)" test -n "$op"
st=$(wait_op "$op")
sed 's/^/# op: /' "$T/op.json" | head -n 30
check "the issuance failed (state $st)" grep -Eqx "failed|rolled_back" <<<"$st"
check_grep "the operation says why: station token unavailable, module crashed" \
    'station token unavailable: module (crashed|helper exited)' "$T/op.json"
grep -v '<[67]>' "$T/cardmgrd.log" | grep -i 'p11h\|helper\|keyd' | head -n 20 | sed 's/^/# log: /'
check_grep "keyd's log names the crash (signal 11, or ASan's exit after its report)" \
    'PKCS#11 helper: module (crashed \(signal 11\)|helper exited \(status 1\))' "$T/cardmgrd.log"
check_grep "the engine was told: station token unavailable" \
    'station token unavailable: module' "$T/cardmgrd.log"
# keyd restarts its helper once it has answered (at once, the first time)
for ((i = 0; i < 100; i++)); do
	grep -q 'PKCS#11 helper restarted' "$T/cardmgrd.log" && break
	sleep 0.1
done
check_grep "the helper was restarted" 'PKCS#11 helper restarted' "$T/cardmgrd.log"
check "cardmgrd still runs (pid $pid)" kill -0 "$pid"
check_eq "keyd is the same process" "$k0" "$(keyd_pid)"
check_eq "the engine is the same process" "$e0" "$(engine_pid)"
h1=$(helper_pid)
check "a new helper runs ($h0 -> $h1)" test -n "$h1" -a "$h1" != "$h0"
check "status answers" cm auditor status
check "the inventory answers (card 6101: $(card_state 6101))" cm auditor --json cards show 6101
check_fails "the failed issuance left no active card" test "$(card_state 6101)" = active

# ---- the module behaves again: the next issuance works, same daemon
rm -f "$FLAG"
vcard_remove 0 >/dev/null 2>&1
vcard_insert 0 "$T/card1.state" --create --serial 6102 >/dev/null
op=$(issue_temp "$R" 6102 482916)
st=$(wait_op "$op")
check_eq "with the crash off the next issuance is done (operation $op)" done "$st"
check_eq "card 6102 is active in the inventory" active "$(card_state 6102)"
check "the card holds its certificate (yubico-piv-tool reads 9a)" \
    sh -c "yubico-piv-tool -r '$R' -a read-certificate -s 9a 2>/dev/null | grep -q 'BEGIN CERTIFICATE'"
check_eq "cardmgrd was not restarted" "$pid" "$(cat "$T/pids/cardmgrd")"
check_eq "nor keyd" "$k0" "$(keyd_pid)"

# ---- the CA link's TLS client key signs through keyd too (rkey ->
# MSG_KS_SIGN): with the crash back on, a revocation the engine sends on its
# own (the CA journal's drain) fails with the error instead of hanging, and
# the journal keeps it; once the module behaves it goes through.
check "card 6102's certificates reached the CA (journal empty)" wait_settled 6102
sn=$(serials 6102)
check "card 6102 has certificates ($sn)" test -n "$sn"
: >"$FLAG"
chmod 644 "$FLAG"
n0=$(grep -c 'station token unavailable: module' "$T/cardmgrd.log")
cm officer retire 6102 --reason lost >"$T/lost.out" 2>&1
sed 's/^/# retire: /' "$T/lost.out"
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c 'station token unavailable: module' "$T/cardmgrd.log")" -gt "$n0" ] && break
	sleep 0.1
done
check "the CA link's signature met the crash: the engine logs station token unavailable" \
    test "$(grep -c 'station token unavailable: module' "$T/cardmgrd.log")" -gt "$n0"
check "the revocation waits in the CA journal (pending_ca $(field 6102 'j["pending_ca"]'))" \
    test "$(field 6102 'j["pending_ca"]')" -gt 0
check "status answers meanwhile" cm auditor status
rm -f "$FLAG"
check "once the module behaves the journal drains (pending_ca 0)" wait_settled 6102
crl_entries >"$T/crl.now"
for c in $sn; do
	check_grep "the CA's CRL lists certificate $c" "^${c^^} " "$T/crl.now"
done
check_eq "keyd is still the same process" "$k0" "$(keyd_pid)"

# ---- a module that hangs in C_Sign: killed after keyd's timeout
echo hang >"$FLAG"
chmod 644 "$FLAG"
vcard_remove 0 >/dev/null 2>&1
vcard_insert 0 "$T/card2.state" --create --serial 6103 >/dev/null
h2=$(helper_pid)
r0=$(grep -c 'PKCS#11 helper restarted' "$T/cardmgrd.log")
op=$(issue_temp "$R" 6103 482916)
st=$(wait_op "$op")
check "the issuance on a hung module failed (state $st)" grep -Eqx "failed|rolled_back" <<<"$st"
check_grep "the operation says the module did not answer" \
    'station token unavailable: module did not answer' "$T/op.json"
check_grep "keyd's log says the module did not answer" \
    'PKCS#11 helper: module did not answer within [0-9]+ s \(killed\)' "$T/cardmgrd.log"
# The helper comes back (after a backoff if it died within a minute of its
# start), with no request needed; wait for keyd to say so.
for ((i = 0; i < 300; i++)); do
	[ "$(grep -c 'PKCS#11 helper restarted' "$T/cardmgrd.log")" -gt "$r0" ] && break
	sleep 0.1
done
check "keyd restarted it ($(grep 'PKCS#11 helper restarted' "$T/cardmgrd.log" | tail -n 1))" \
    test "$(grep -c 'PKCS#11 helper restarted' "$T/cardmgrd.log")" -gt "$r0"
h3=$(helper_pid)
check "a new helper runs ($h2 -> $h3)" test -n "$h3" -a "$h3" != "$h2"
check "status answers" cm auditor status
check_eq "keyd is the same process" "$k0" "$(keyd_pid)"
rm -f "$FLAG"

daemon_stop
sed -i "s|^pkcs11_module *=.*|pkcs11_module = $real|" "$T/ca.conf"
check "with the sound module the station starts again" daemon_start
done_testing
