#!/bin/bash
# kill -9 of the CA. A real CA answers a retried transaction once; the test
# CA must too, or the station's exactly-once rests on nothing. The CA is
# killed (1) at its crash point in the middle of recording an issuance, and
# (2) at random points of a drain, by SIGKILL of the testca process behind
# nginx; each time it is restarted and the work drained again. Asserted from
# the CA's own records (txid/ and issued/, read with openssl, not our code):
# exactly one certificate per operation, none without its transaction.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/ca/caenv.sh"
caenv_init "$0" "$@" || { echo "not ok 1 - environment"; exit 1; }
set_conf idm_url ''
sed -i '/^idm_url/d' "$T/ca.conf"

check "station enrolled" enroll_station

# --- (1) deterministic: the CA dies between the steps of one issuance
mkcsr c1; cli enroll --queue --csr "$T/c1.csr" --profile piv-auth >/dev/null 2>&1
op=$(cli outbox list --pending | awk 'NR == 1 { print $1 }')
tx=$(cli outbox list --pending | awk 'NR == 1 { sub("txid=", "", $6); print $6 }')
before=$(issued_count)
ca_stop; ca_start --crash-at issue
cli outbox drain >"$T/out" 2>&1
check_eq "the CA died during the issuance: the drain keeps the op (exit 3)" 3 $?
ca_reap
check_eq "the CA died by SIGKILL at its crash point (wait status 137)" 137 "$CA_STATUS"
check_grep "it died at the crash point" 'crash point issue: SIGKILL' "$T/testca.log"
check_eq "the op is still pending" pending "$(outbox_state "$op")"
ca_start
cli outbox drain >"$T/out" 2>&1
check_eq "after the CA's restart the drain completes it (exit 0)" 0 $?
check_eq "done" done "$(outbox_state "$op")"
check_eq "the CA holds exactly one certificate for the operation" $((before + 1)) "$(issued_count)"
check_eq "no certificate without its transaction record" "" "$(ca_record_problems)"
check_grep "the retry was answered from the CA's record (replay)" "replay txid=$tx" "$T/testca.log"
check_eq "the station's certificate is the one the CA recorded" \
    "$(ca_txid_serial "$tx")" "$(cli status | awk '/^cert / { s = $2 } END { print s }')"

# --- (2) random: SIGKILL of the CA process at random points of drains
for i in $(seq 1 20); do mkcsr "k$i"; cli enroll --queue --csr "$T/k$i.csr" --profile piv-auth >/dev/null 2>&1; done
cli outbox list --pending | awk '{ sub("txid=", "", $6); print $1, $6 }' >"$T/kops"
check_eq "20 operations journaled for the kill rounds" 20 "$(wc -l <"$T/kops")"
done_ops() {	# how many of them are done, per the journal
	cli outbox list | awk 'NR == FNR { want[$1] = 1; next }
	    ($1 in want) && $3 == "done" { n++ } END { print n + 0 }' "$T/kops" -
}
before=$(issued_count) kills=0 rounds=0 bad=""
for round in $(seq 1 12); do
	[ -n "$(cli outbox list --pending)" ] || break
	rounds=$((rounds + 1))
	"$BIN/cardmgr-ca" -c "$T/ca.conf" outbox drain --max 2 >"$T/drain" 2>&1 &
	dpid=$!
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	ca_kill
	[ "$CA_STATUS" = 137 ] && kills=$((kills + 1))
	wait "$dpid"
	rc=$?
	# The station saw its CA vanish: a clear retry, never a lost op.
	[ $rc = 0 ] || [ $rc = 3 ] || bad="$bad round $round: drain exit $rc ($(tail -n 1 "$T/drain"));"
	ca_start
	p=$(ca_record_problems); [ -z "$p" ] || bad="$bad round $round after the CA's restart: $p;"
	[ "$(issued_count)" -ge $((before + $(done_ops))) ] ||
	    bad="$bad round $round: the journal has more done than the CA issued;"
	cli outbox drain --max 1 >"$T/drain" 2>&1
	rc=$?
	[ $rc = 0 ] || [ $rc = 3 ] || bad="$bad round $round: drain exit $rc ($(tail -n 1 "$T/drain"));"
	p=$(ca_record_problems); [ -z "$p" ] || bad="$bad round $round after the drain: $p;"
done
echo "# the CA was killed (SIGKILL, wait status 137) in $kills of $rounds rounds"
check_eq "every round: the CA's records consistent, the drain kept or did its work" "" "$bad"
check "the CA was really killed at least once" test "$kills" -gt 0
for a in 1 2 3; do cli outbox drain >"$T/drain" 2>&1 && break; done
check_grep "the backlog drains" ' 0 remaining$' "$T/drain"
check_eq "every operation done" 20 "$(done_ops)"
check_eq "the CA issued exactly one certificate per operation" $((before + 20)) "$(issued_count)"
check_eq "no certificate without its transaction record" "" "$(ca_record_problems)"
check_eq "each of the 20 transactions has its record at the CA" 20 \
    "$(awk '{ print $2 }' "$T/kops" | while read -r t; do [ -n "$(ca_txid_serial "$t")" ] && echo; done | wc -l)"
check_eq "each certificate the station holds is the one the CA recorded" "" \
    "$(cli status | awk '/^cert / { print $2 }' | sort >"$T/st-serials"
       for t in $(awk '{ print $2 }' "$T/kops"); do
	       grep -qx "$(ca_txid_serial "$t")" "$T/st-serials" || echo "$t"
       done)"
done_testing
