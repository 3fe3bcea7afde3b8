#!/bin/bash
# A kill during the token login (SoftHSM2's file store rewrites token.object
# in place at every C_Login: ftruncate, then write) leaves an empty token.
# The station must say exactly that, not retry "no CA link" forever, keep the
# journaled work untouched, and come back by either documented recovery:
#  (a) restore the token from its backup (provisioning/token-backup.sh);
#  (b) a new token and re-enrollment with a new one-time secret.
# In both cases the journal then drains, each operation exactly once, as the
# test CA's own records (issued/, txid/) show.
#
# The kill is real and deterministic: strace stops cardmgr-ca with SIGKILL
# when it enters the write() to token.object, i.e. after SoftHSM truncated
# it. A SIGTERM at the same point must leave the token whole (cakey defers
# the catchable signals around C_Login).
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"	# no identity manager pushes: one op each
backup=$T/token-backup
tokbak() { bash "$TOP/provisioning/token-backup.sh" "$@"; }
tobj() { ls "$T"/tokens/*/token.object | head -n 1; }
# cardmgr-ca under strace: signal SIG at SYSCALL on token.object (SIGKILL
# acts at the entry of the call, a catchable signal once the call returned).
signal_at() {	# SYSCALL SIG cardmgr-ca-args...
	local call=$1 sig=$2; shift 2
	strace -qq -f -o "$T/strace.log" -P "$(tobj)" -e "trace=$call" \
	    -e "inject=$call:signal=$sig" "$BIN/cardmgr-ca" -c "$T/ca.conf" "$@" \
	    >"$T/killed.out" 2>&1
}
pending_attempts() {	# the attempts= of every pending op, one line
	cli outbox list --pending | grep -o 'attempts=[0-9]*' | tr '\n' ' '
}
# Exactly once, from the CA's records: the key of each CSR is in exactly one
# certificate under issued/, and its operation's transactionID is recorded.
once_each() {	# name...
	local n k c bad=""
	for n in "$@"; do
		k=$(openssl req -inform DER -in "$T/$n.csr" -noout -pubkey)
		c=0
		for f in "$PKI"/issued/*; do
			[ "$(openssl x509 -inform DER -in "$f" -noout -pubkey 2>/dev/null)" = "$k" ] &&
			    c=$((c + 1))
		done
		[ "$c" = 1 ] || bad="$bad $n:$c"
	done
	echo "${bad:-ok}"
}
txids_recorded() {	# ids...: each op's transactionID is in the CA's txid/
	local id tx bad=""
	for id in "$@"; do
		tx=$(cli outbox list | awk -v id="$id" '$1 == id { sub("txid=", "", $6); print $6 }')
		[ -n "$tx" ] && [ -s "$PKI/txid/$tx" ] || bad="$bad $id"
	done
	echo "${bad:-ok}"
}
queue() {	# name: journal an enrollment of a fresh CSR, print its op id
	mkcsr "$1"
	cli enroll --queue --csr "$T/$1.csr" --profile piv-auth >/dev/null 2>&1
	cli outbox list | awk 'END { print $1 }'
}

otp_add station-01 first-start
printf 'first-start' >"$T/otp"
check "station-setup.sh enrolls the station" env CARDMGR_CA="$BIN/cardmgr-ca" \
    CARDMGR_TOKEN_BACKUP="$backup" bash "$TOP/provisioning/station-setup.sh" \
    "$T/ca.conf" station-01 "$T/otp"
check "and leaves a copy of the token directory" diff -r -q "$T/tokens" "$backup/tokens"
check "token-backup.sh check: the token is whole" tokbak check "$T/ca.conf"
mkcsr pre; check "a first enrollment works" cli enroll --csr "$T/pre.csr" --profile piv-auth
base=$(issued_count)

# --- status and an empty drain do not log in (nothing for a kill to hit)
before=$(stat -c %Y.%y "$(tobj)")
sleep 0.01
cli status >"$T/status0" 2>&1
check_eq "status with a whole token exits 0" 0 $?
check_grep "status says the token is whole" '^token: ok' "$T/status0"
cli outbox drain >/dev/null 2>&1
check_eq "status and an empty drain leave token.object alone" "$before" "$(stat -c %Y.%y "$(tobj)")"

# --- SIGTERM between the login's ftruncate and write: deferred, token whole
a1=$(queue a1)
signal_at ftruncate SIGTERM outbox drain
check_eq "cardmgr-ca ended by the SIGTERM (exit 143)" 143 $?
check_grep "strace saw the signal at the truncation" 'SIGTERM' "$T/strace.log"
check "the token survived: token.object is not empty" test -s "$(tobj)"
cli status >"$T/status1" 2>&1
check_grep "the token is still ok after the SIGTERM" '^token: ok' "$T/status1"

# --- SIGKILL there: the token is destroyed, the station says so
a2=$(queue a2); a3=$(queue a3)
signal_at write SIGKILL outbox drain
check_eq "cardmgr-ca died by SIGKILL (exit 137)" 137 $?
check_eq "token.object is empty after the kill" 0 "$(stat -c %s "$(tobj)")"
check_fails "token-backup.sh check sees the damage" tokbak check "$T/ca.conf"
check_fails "a damaged token is not backed up" tokbak backup "$T/ca.conf" "$backup"
check "the good backup is kept" tokbak check "$T/ca.conf" "$backup"
att=$(pending_attempts)
cli outbox drain >"$T/drain1" 2>&1
check_eq "drain with a damaged token exits 5" 5 $?
check_grep "and says the token is damaged or missing" \
    'station token .station. damaged or missing: restore it from its backup or re-enroll' "$T/drain1"
check_fails "not 'no CA link'" grep -q 'no CA link' "$T/drain1"
cli outbox drain >"$T/drain2" 2>&1
check_eq "a second drain exits 5 too" 5 $?
check_eq "the journal is untouched: 3 pending, attempts unchanged" "$att" "$(pending_attempts)"
check_eq "3 operations pending" 3 "$(cli outbox list --pending | wc -l)"
mkcsr a4
cli enroll --csr "$T/a4.csr" --profile piv-auth >"$T/enr" 2>&1
check_eq "an enrollment with a damaged token exits 5" 5 $?
check_grep "and is journaled (4 pending)" '^outbox: 4 pending' <(cli status 2>/dev/null)
a4=$(cli outbox list | awk 'END { print $1 }')
cli status >"$T/status2" 2>&1
check_eq "status exits 5" 5 $?
check_grep "status names the damage" '^token: DAMAGED OR MISSING' "$T/status2"
check_eq "the CA issued nothing meanwhile" "$base" "$(issued_count)"

# --- (a) restore from the backup: the journal drains, each op once
check "restore the token from the backup" tokbak restore "$T/ca.conf" "$backup"
check "the damaged token is kept aside" bash -c "ls -d '$T'/tokens.damaged.* >/dev/null"
cli outbox drain >"$T/drain3" 2>&1
check_eq "the drain after the restore exits 0" 0 $?
check_grep "all 4 done" '^drained: 4 done, 0 failed, 0 to retry, 0 remaining' "$T/drain3"
check_eq "the CA issued exactly 4 more" $((base + 4)) "$(issued_count)"
check_eq "each CSR certified exactly once (issued/)" ok "$(once_each a1 a2 a3 a4)"
check_eq "each transaction recorded at the CA (txid/)" ok "$(txids_recorded "$a1" "$a2" "$a3" "$a4")"
check_grep "status: token ok again" '^token: ok' <(cli status 2>/dev/null)

# --- (b) no backup: a new token, re-enrollment with a new one-time secret
base=$(issued_count)
b1=$(queue b1); b2=$(queue b2)
signal_at write SIGKILL outbox drain
check_eq "killed again during the login" 0 "$(stat -c %s "$(tobj)")"
cli outbox drain >"$T/drain4" 2>&1
check_eq "damaged again: exit 5" 5 $?
mv "$T/tokens" "$T/tokens.lost"; mkdir -m 700 "$T/tokens"
softhsm2-util --init-token --free --label station --pin "$(cat "$T/pin")" \
    --so-pin 12345678 >/dev/null 2>&1
cli outbox drain >"$T/drain5" 2>&1
check_eq "a new empty token: exit 5" 5 $?
check_grep "the station key is missing from it" \
    "station key 'station-key' is not in token 'station'" "$T/drain5"
old=$(openssl x509 -in "$ST/station.crt" -noout -serial)
otp_add station-01 "second-$RANDOM"
printf '%s' "$(cat "$PKI/otp/station-01")" >"$T/otp2"
check "re-enroll with a new one-time secret" cli enroll-station --ref station-01 --secret-file "$T/otp2"
check "a new station certificate" test "$old" != "$(openssl x509 -in "$ST/station.crt" -noout -serial)"
cli outbox drain >"$T/drain6" 2>&1
check_eq "the drain after re-enrollment exits 0" 0 $?
check_grep "both done" '^drained: 2 done, 0 failed, 0 to retry, 0 remaining' "$T/drain6"
# base + 1: the new station certificate itself.
check_eq "the CA issued the station certificate and 2 more" $((base + 3)) "$(issued_count)"
check_eq "each CSR certified exactly once (issued/)" ok "$(once_each b1 b2)"
check_eq "each transaction recorded at the CA (txid/)" ok "$(txids_recorded "$b1" "$b2")"
check_eq "LMDB: nothing pending (mdb_stat)" "Entries: 0" \
    "$(mdb_stat -s pending "$ST/outbox" | grep -o 'Entries: [0-9]*')"
done_testing
