#!/bin/bash
# Failure tests: CA down, nginx down, slow CA, wrong server name, untrusted
# server, and malformed, unprotected or forged CMP responses. Each must give
# a clear error, keep the operation pending in the outbox, and, once the CA
# is healthy again, drain it without the CA issuing a second certificate
# (the retry reuses the journaled transactionID; the CA's issued/ directory
# is the independent count).
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }

check "station enrolled" enroll_station
n=0	# operations so far

fault_case() {	# name, expected error regex
	local name=$1 want=$2
	n=$((n + 1))
	mkcsr "f$n"
	cli enroll --csr "$T/f$n.csr" --profile piv-auth --out "$T/f$n.crt" >"$T/out" 2>&1
	check_eq "$name: exit 3 (journaled, will retry)" 3 $?
	check_grep "$name: clear error" "$want" "$T/out"
	op=$(sed -n 's/^queued: op \([0-9]*\).*/\1/p' "$T/out")
	check_eq "$name: outbox keeps it pending" pending "$(outbox_state "$op")"
}

heal_and_drain() {	# name: normal CA and nginx, drain, exactly one new cert
	local name=$1 before=$2
	ca_stop; ca_start
	[ -f "$T/pids/nginx" ] || nginx_start
	set_conf port 8443
	set_conf timeout 10
	cli outbox drain >"$T/drain" 2>&1
	check_eq "$name: drained after recovery" done "$(outbox_state "$op")"
	check_eq "$name: the CA issued exactly one certificate for it" $((before + 1)) "$(issued_count)"
}

b=$(issued_count); ca_stop
fault_case "CA down (nginx 502)" 'CA unreachable'
heal_and_drain "CA down" "$b"

b=$(issued_count)
kill "$(cat "$T/pids/nginx")"; wait "$(cat "$T/pids/nginx")" 2>/dev/null; rm -f "$T/pids/nginx"
# Nothing listens: "connection refused" at once, its own error (OpenSSL's
# connect retried a refusal until the timeout and said "connect timeout").
fault_case "nothing listening" '\(connection refused: ca.test:8443\); it will be retried'
check_grep "nothing listening: kept under its own error code" 'err=CA_ERR_REFUSED last_error=connection refused' \
    <(cli outbox list --pending)
cli outbox drain >"$T/drain" 2>&1
check_eq "nothing listening: the drain keeps it (exit 3)" 3 $?
check_grep "and reports the refusal" "^cardmgr-ca: op $op kept for a retry: connection refused: ca.test:8443" "$T/drain"
heal_and_drain "nothing listening" "$b"

b=$(issued_count)
set_conf timeout 1; ca_stop; ca_start --delay 3
fault_case "slow CA (1 s timeout)" 'CA unreachable.*(timeout|timed out)'
sleep 3	# let the slow CA finish the request it got: the retry is then a replay
heal_and_drain "slow CA" "$b"
check_grep "slow CA: the retry was recognised as a replay" 'replay txid=.* \(not issued again\)' "$T/testca.log"

b=$(issued_count); set_conf port 8444
fault_case "wrong server name" 'TLS: CA server certificate: hostname mismatch'
heal_and_drain "wrong server name" "$b"

b=$(issued_count); set_conf port 8445
fault_case "untrusted server certificate" 'TLS: CA server certificate: (self-signed|unable to get local issuer)'
heal_and_drain "untrusted server certificate" "$b"

for f in unprotected:'invalid CMP response.*(missing protection|protection)' \
         badsig:'invalid CMP response.*(validating protection|signature)' \
         untrusted:'invalid CMP response.*validating (protection|signature)' \
         badtxid:'invalid CMP response.*transactionid unmatched' \
         badnonce:'invalid CMP response.*recipnonce unmatched' \
         garbage:'invalid CMP response.*(wrong tag|asn1|ASN1)' \
         http500:'CA unreachable'; do
	mode=${f%%:*}
	b=$(issued_count); ca_stop; ca_start --fault "$mode"
	fault_case "response fault $mode" "${f#*:}"
	heal_and_drain "response fault $mode" "$b"
done

# A response signed by a certificate that chains to the root but is not the
# CA (here the CA operator's): refused because cmp_sender pins the signer...
b=$(issued_count); ca_stop; ca_start --fault othersigner
fault_case "response signed by another certified entity" 'invalid CMP response.*does not match expected sender'
heal_and_drain "another signer" "$b"
# ... and accepted without the pin, which is why the pin is configured.
sed -i '/^cmp_sender/d' "$T/ca.conf"
ca_stop; ca_start --fault othersigner
mkcsr pin; n=$((n + 1))
check "without cmp_sender the forged response would be accepted" \
    cli enroll --csr "$T/pin.csr" --profile piv-auth
ca_stop; ca_start

# --- the TLS front dies mid-transfer: the station says so and keeps the
# work for a retry; it never dies of SIGPIPE (exit 141, nothing said).
b=$(issued_count)
for i in 1 2 3; do mkcsr "t$i"; cli enroll --queue --csr "$T/t$i.csr" --profile piv-auth >/dev/null 2>&1; done
ca_stop; ca_start --delay 2
"$BIN/cardmgr-ca" -c "$T/ca.conf" outbox drain >"$T/front" 2>&1 &
d=$!
for i in $(seq 1 200); do drain_lock_held && break; sleep 0.02; done
check_eq "the drain ignores SIGPIPE (SigIgn in /proc/PID/status)" 1 "$(sigpipe_ignored "$d")"
sleep 0.5	# the request is at the CA, which holds it for 2 s
nginx_kill
wait "$d"
check_eq "TLS front killed mid-exchange: the drain exits 3 (kept), not 141" 3 $?
check_grep "and says why" 'to retry' "$T/front"
check_eq "all three still pending" 3 "$(cli outbox list --pending | wc -l)"
nginx_start; ca_stop; ca_start
# The same at random points of drains: kills during TLS handshakes, request
# writes and certConf (the old station died of SIGPIPE in 2 of 12 such rounds).
for i in $(seq 4 12); do mkcsr "t$i"; cli enroll --queue --csr "$T/t$i.csr" --profile piv-auth >/dev/null 2>&1; done
rcs=""
for r in $(seq 1 10); do
	"$BIN/cardmgr-ca" -c "$T/ca.conf" outbox drain --max 2 >"$T/front" 2>&1 &
	d=$!
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	nginx_kill
	wait "$d"
	rc=$?
	rcs="$rcs$rc "
	case $rc in
	0|3) grep -q '^drained:' "$T/front" || rcs="$rcs(no summary) " ;;
	esac
	nginx_start
done
echo "# drain exit codes: $rcs"
check_eq "no drain died of SIGPIPE (141) or otherwise: each exited 0 or 3 and said so" "" \
    "$(tr ' ' '\n' <<<"$rcs" | grep -vxE '0|3|' | sort -u)"
cli outbox drain >"$T/drain" 2>&1
check_grep "then everything drains" ' 0 remaining$' "$T/drain"
check_eq "one certificate per operation (the CA's issued/)" $((b + 12)) "$(issued_count)"
check_eq "none without its transaction record" "" "$(ca_record_problems)"
n=$((n + 12))

check_eq "status lists every certificate once" $((n)) "$(cli status | grep -c '^cert ')"
done_testing
