#!/bin/bash
# The daemon drains its CA journal wide: enrollments (which depend on
# nothing queued before them) go out over several links at once, while the
# holds and releases of one certificate keep their order. With the CA's
# front down, a card is suspended and reinstated twice (4 holds, 4 releases,
# 4 holds, 4 releases journaled) and 40 enrollments are journaled behind them (outbox_fill, the
# drain bench's tool); the front comes back. Checked at the CA: exactly 40
# new certificates and no transaction sent twice (the test CA logs a replay
# when a transactionID comes again), the card's certificates not on the CRL
# (a release sent before its hold would leave them held), the inventory
# active with nothing pending, and the same after a restart; the test CA's
# log has no release of a certificate that was not held.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

nginx_stop() {
	kill "$(cat "$T/pids/nginx")" 2>/dev/null
	wait "$(cat "$T/pids/nginx")" 2>/dev/null
	rm -f "$T/pids/nginx"
}
ca_pending() {
	cm auditor --json status 2>/dev/null | python3 -c \
	    'import json,sys; print(json.load(sys.stdin)["ca"]["pending"])' 2>/dev/null
}
wait_drained() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(ca_pending)" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 6001 >/dev/null
printf '461937\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder E100 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "an employee card is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
SN=$(serials 6001)
check_eq "with 4 certificates" 4 "$(wc -w <<<"$SN")"

# --- the CA's front down: holds, releases and 40 enrollments journaled
nginx_stop
for round in 1 2; do
	cm security --json suspend 6001 --reason "left on a train" >/dev/null
	check_eq "round $round: suspended with the CA away" suspended "$(field 6001 'j["state"]')"
	cm helpdesk --json reinstate 6001 >/dev/null
	check_eq "round $round: reinstated with the CA away" active "$(field 6001 'j["state"]')"
done
mkcsr bulk
check_grep "40 enrollments journaled behind them" '^journaled 40$' \
    <("$BIN/outbox_fill" "$T/inv" 40 "$T/bulk.csr" piv-auth 2>&1)
p=$(ca_pending)
check "the journal holds them all (pending: $p, at least 56)" test "${p:-0}" -ge 56
issued=$(issued_count)
replays=$(grep -c 'replay txid=' "$T/testca.log")

# --- the front back: the background drain sends everything
nginx_start
check "the journal drains to nothing pending" wait_drained
check_eq "the CA issued exactly 40 certificates" $((issued + 40)) "$(issued_count)"
check_eq "no transaction reached the CA twice (no replay)" "$replays" \
    "$(grep -c 'replay txid=' "$T/testca.log")"
check_eq "the CA's records consistent" "" "$(ca_record_problems)"
check_eq "every release reached the CA after its hold (none 'was not held')" 0 \
    "$(grep -c 'was not held' "$T/testca.log")"
check "holds then releases, in order: none of the card's certificates on the CRL" \
    crl_has absent $SN
check_eq "inventory: active, certificates valid, nothing pending" "active 0 valid" \
    "$(field 6001 '"%s %s" % (j["state"], j["pending_ca"])') $(cert_states 6001)"
check_grep "the drain says what it did" 'CA journal: [0-9]+ done, 0 refused, 0 to retry, 0 left' "$T/cardmgrd.log"

# --- kept connections (keep_alive in ca.conf): 40 more enrollments over the
# links' open connections; then nginx reloads (its old worker closes the idle
# ones) and 40 more go out on new connections, none failing on a closed one
# (nothing "to retry"). Counted at nginx ($connection per request).
l0=$(wc -l <"$T/nginx/access.log")
"$BIN/outbox_fill" "$T/inv" 40 "$T/bulk.csr" piv-auth >/dev/null 2>&1
check "40 more drain" wait_drained
conns=$(tail -n +$((l0 + 1)) "$T/nginx/access.log" | grep '"POST /cmp ' | grep -o ' conn=[0-9]*' | sort -u | wc -l)
check "their 40 requests (implicit confirmation: no certConf) came over at most 9 connections (the links': $conns)" test "$conns" -le 9
kill -HUP "$(cat "$T/pids/nginx")"
sleep 1
l0=$(wc -l <"$T/nginx/access.log") g0=$(wc -l <"$T/cardmgrd.log") issued=$(issued_count)
"$BIN/outbox_fill" "$T/inv" 40 "$T/bulk.csr" piv-auth >/dev/null 2>&1
check "after nginx reloaded, 40 more drain" wait_drained
check_eq "the CA issued exactly 40" $((issued + 40)) "$(issued_count)"
check_eq "none went to a connection nginx had closed (nothing to retry)" "" \
    "$(tail -n +$((g0 + 1)) "$T/cardmgrd.log" | grep -E 'CA journal: .*[1-9][0-9]* to retry')"
check_eq "all 40 requests answered 200 at nginx" 40 \
    "$(tail -n +$((l0 + 1)) "$T/nginx/access.log" | grep '"POST /cmp ' | grep -c '" 200 ')"
daemon_stop
check "the daemon starts again" daemon_start
check_eq "the same after a restart" "active 0 valid 0" \
    "$(field 6001 '"%s %s" % (j["state"], j["pending_ca"])') $(cert_states 6001) $(ca_pending)"
done_testing
