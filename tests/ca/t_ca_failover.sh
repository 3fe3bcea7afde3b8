#!/bin/bash
# Failover between CA endpoints. Two TLS fronts (nginx: ca.test on
# 127.0.0.1, ca2.test on 127.0.0.2, separate processes, each with a
# certificate for its own name) in front of ONE test CA, as a CA cluster's
# fronts share its state. The station names both; one front is killed in
# the middle of a backlog's drain (the drain stops itself at a known op
# through the test hook CARDMGR_CA_PAUSE_AT, the test kills the front that
# served the ops so far, then lets it go on): every operation is done,
# exactly once by the CA's own records (txid/ and issued/, read with
# openssl), and the drain says it failed over, once: the endpoint that
# answered is then tried first. Each endpoint's name is checked against its
# own certificate (CARDMGR_CA_KEEP_ORDER, a test hook, keeps ca.conf's
# order there). The endpoint that answered is remembered in the journal: a
# new process starts there. Both fronts down: a clear error, nothing marked
# done.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"

check "station enrolled" enroll_station
check "second front (ca2.test) up" nginx2_start

posts() {	# front 1|2: CMP requests its access log holds
	local f=nginx; [ "$1" = 2 ] && f=nginx2
	local n
	n=$(grep -c '"POST /cmp ' "$T/$f/access.log" 2>/dev/null)
	echo "${n:-0}"
}
queue() {	# n: journal n enrollments, ids appended to $T/ops
	local i
	for i in $(seq 1 "$1"); do
		nq=$((nq + 1)); mkcsr "q$nq"
		cli enroll --queue --csr "$T/q$nq.csr" --profile piv-auth >"$T/out" 2>&1
		sed -n 's/^queued: op \([0-9]*\).*/\1/p' "$T/out" >>"$T/ops"
	done
}
txids() {	# transactionIDs of the ops in $T/ops
	cli outbox list | awk 'NR == FNR { want[$1] = 1; next }
	    ($1 in want) { sub("txid=", "", $6); print $6 }' "$T/ops" -
}
states() {	# "N done" etc. over the ops in $T/ops
	cli outbox list | awk 'NR == FNR { want[$1] = 1; next }
	    ($1 in want) { n[$3]++ } END { for (s in n) print n[s], s }' "$T/ops" - | sort
}
nq=0

# --- each endpoint checked against its own name: ca.test:8444 presents a
# certificate for other.test (refused), ca2.test its own (accepted, which a
# check against a shared name would refuse).
set_conf server '"ca.test:8444", "ca2.test"'
b=$(issued_count); p2=$(posts 2)
: >"$T/ops"; queue 3
CARDMGR_CA_KEEP_ORDER=1 cli outbox drain >"$T/drain" 2>&1
check_eq "wrong-name endpoint first, then ca2.test: the drain completes (exit 0)" 0 $?
check_eq "all 3 done" "3 done" "$(states)"
check_eq "the CA issued 3 certificates" $((b + 3)) "$(issued_count)"
check_eq "all through ca2.test (1 CMP message each: implicit confirmation)" $((p2 + 3)) "$(posts 2)"
check_grep "the failover names the refused endpoint and why" \
    'failed over to CA endpoint ca2.test:8443 \(ca.test:8444: .*hostname mismatch' "$T/drain"
check_eq "once: ca2.test then served the rest first" 1 "$(grep -c 'failed over' "$T/drain")"

# --- a front killed in the middle of a backlog
set_conf server '"ca.test", "ca2.test"'
b=$(issued_count)
: >"$T/ops"; queue 12
check_eq "12 operations journaled" 12 "$(wc -l <"$T/ops")"
txids >"$T/txids"
p1=$(posts 1) p2=$(posts 2)
CARDMGR_CA_PAUSE_AT=5 "$BIN/cardmgr-ca" -c "$T/ca.conf" outbox drain >"$T/drain" 2>&1 &
dpid=$!
for ((i = 0; i < 400; i++)); do
	[ "$(proc_state "$dpid")" = T ] && break
	sleep 0.05
done
check_eq "the drain stopped itself before its 5th op (test hook)" T "$(proc_state "$dpid")"
d1=$(( $(posts 1) - p1 )) d2=$(( $(posts 2) - p2 ))
echo "# before the kill: front 1 served $d1 CMP messages, front 2 $d2"
check_eq "4 ops done before the pause" "4 done
8 pending" "$(states)"
# The endpoint that answered is kept: all of them went to one front.
check "ops 1-4 all through one front (4 messages, the other none)" \
    test "$d1:$d2" = "4:0" -o "$d1:$d2" = "0:4"
if [ "$d1" -gt 0 ]; then dead=1 live=2 want='ca2.test:8443 \(ca.test:8443: connection refused: ca.test:8443\)$'
else dead=2 live=1 want='ca.test:8443 \(ca2.test:8443: connection refused: ca2.test:8443\)$'; fi
front_kill "$dead"
pl=$(posts "$live")
kill -CONT "$dpid"
wait "$dpid"
check_eq "the drain completes after the failover (exit 0)" 0 $?
check_grep "it says so, naming both endpoints and why" "failed over to CA endpoint $want" "$T/drain"
check_eq "once: the answering endpoint is then tried first" 1 "$(grep -c 'failed over' "$T/drain")"
check_grep "nothing left" 'drained: 12 done, 0 failed, 0 to retry, 0 remaining' "$T/drain"
check_eq "all 12 done" "12 done" "$(states)"
check_eq "ops 5-12 through the live front (1 message each)" $((pl + 8)) "$(posts "$live")"
check_eq "the CA issued exactly 12 certificates" $((b + 12)) "$(issued_count)"
check_eq "no certificate without its transaction record" "" "$(ca_record_problems)"
check_eq "each of the 12 transactions has its record at the CA" 12 \
    "$(while read -r t; do [ -n "$(ca_txid_serial "$t")" ] && echo; done <"$T/txids" | wc -l)"
check_eq "each certificate the station holds is the one the CA recorded" "" \
    "$(cli status | awk '/^cert / { print $2 }' | sort >"$T/st-serials"
       while read -r t; do grep -qx "$(ca_txid_serial "$t")" "$T/st-serials" || echo "$t"; done <"$T/txids")"

# --- the endpoint that answered is remembered in the journal, across
# processes: the dead front back up and listed first (ca.conf's order kept,
# test hook), a new drain still starts at the one that answered last.
names=(x ca.test ca2.test)
check_grep "status names the endpoint that answered last" \
    "^ca endpoint: ${names[$live]}:8443 answered last\$" <(cli status)
if [ "$dead" = 1 ]; then nginx_start; else nginx2_start; fi
set_conf server "\"${names[$dead]}\", \"${names[$live]}\""
pd=$(posts "$dead") pl=$(posts "$live")
: >"$T/ops"; queue 3
CARDMGR_CA_KEEP_ORDER=1 cli outbox drain >"$T/drain" 2>&1
check_eq "remembered: the drain completes (exit 0)" 0 $?
check_eq "all 3 through the remembered front (1 message each)" $((pl + 3)) "$(posts "$live")"
check_eq "none through the front listed first" "$pd" "$(posts "$dead")"
check_eq "no failover" 0 "$(grep -c 'failed over' "$T/drain")"
set_conf server '"ca.test", "ca2.test"'

# --- a front killed while the CA holds the request (the CA answers each
# message after 2 s): the station's exchange dies mid-transaction; the same
# transaction goes to the other front and the CA, which issued already,
# answers it as a replay. One certificate.
[ -f "$T/pids/nginx" ] || nginx_start
[ -f "$T/pids/nginx2" ] || nginx2_start
ca_stop; ca_start --delay 2
b=$(issued_count)
: >"$T/ops"; queue 1
tx=$(txids)
"$BIN/cardmgr-ca" -c "$T/ca.conf" outbox drain >"$T/drain" 2>&1 &
dpid=$!
# Until a front holds a connection to the CA (its proxy, to port 8080) ...
for ((i = 0; i < 400; i++)); do
	[ -n "$(ss -tnH state established '( dport = :8080 )')" ] && break
	sleep 0.05
done
# ... and kill the one the station is connected to.
conn=$(ss -tnH state established '( dport = :8443 )' | awk '{ print $4 }')
echo "# the station is connected to $conn while the CA holds its request"
case $conn in
127.0.0.2:8443) dead=2 want='ca.test:8443 \(ca2.test:8443: ' ;;
*) dead=1 want='ca2.test:8443 \(ca.test:8443: ' ;;
esac
check "the station's connection found" test -n "$conn"
front_kill "$dead"
wait "$dpid"
check_eq "front killed mid-transaction: the drain completes (exit 0)" 0 $?
sed "s/^/#   /" "$T/drain"
check_grep "it failed over" "failed over to CA endpoint $want" "$T/drain"
check_eq "done" "1 done" "$(states)"
check_eq "the CA issued exactly one certificate" $((b + 1)) "$(issued_count)"
check_grep "the other front's request was answered as a replay" "replay txid=$tx" "$T/testca.log"
check_eq "the CA's records consistent" "" "$(ca_record_problems)"
ca_stop; ca_start

# --- both fronts down: a clear error, nothing marked done
front_kill 1; front_kill 2
b=$(issued_count)
: >"$T/ops"; queue 2
cli outbox drain >"$T/drain" 2>&1
check_eq "both fronts down: the drain keeps the work (exit 3)" 3 $?
check_grep "the error names both endpoints" \
    'kept for a retry: connection refused: all 2 CA endpoints failed: .*ca.*test:8443: connection refused.*; .*ca.*test:8443: connection refused' "$T/drain"
check_eq "nothing done, both pending" "2 pending" "$(states)"
check_eq "the CA issued nothing" "$b" "$(issued_count)"
nginx_start; nginx2_start
cli outbox drain >"$T/drain" 2>&1
check_eq "fronts back: drained (exit 0)" 0 $?
check_eq "both done" "2 done" "$(states)"
check_eq "one certificate each" $((b + 2)) "$(issued_count)"
check_eq "the CA's records consistent" "" "$(ca_record_problems)"
done_testing
