#!/bin/bash
# make bench, the CA journal drained by the daemon: N journaled enrollments
# (p10cr over nginx mutual TLS, with implicit confirmation as the test CA
# grants it, else certConf too; the station key in SoftHSM2
# behind keyd) drained by cardmgrd's engine, next to the same N drained by
# `cardmgr-ca outbox drain` (one process, one link: the CA link's own CLI)
# in the same run against the same test CA. Prints wall time per operation,
# client CPU per operation (cardmgr-ca's user+sys; the daemon's engine +
# keyd, from /proc) and the ratio. Never pass/fail on time.
#
#   tests/bench_drain.sh BUILD_DIR    BENCH_DRAIN_N (default 10000)
#
# The daemon's N are journaled into its inventory's LMDB by outbox_fill while
# it runs; its background drain picks them up within ca_retry_seconds (1 s
# here, counted in the daemon's time) and logs "CA journal: N done".
B=$(cd "${1:?usage: bench_drain.sh BUILD_DIR}" && pwd)
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export BIN=$B/bin TOP
N=${BENCH_DRAIN_N:-10000}
export CAENV_NO_FSYNC=1	# the test CA skips fsync: the clients are measured
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "bench_drain: station environment failed"; exit 1; }
. "$TOP/tests/daemon/lib.sh"
sed -i '/^idm_url/d' "$T/ca.conf"
die() { echo "bench_drain: $*"; tail -n 20 "$T/cardmgrd.log"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
ticks() {	# [pattern]: utime+stime (clock ticks) of those processes (the daemon's)
	local p s=0
	for p in $(pgrep -f "${1:-$BIN/cardmgrd}"); do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$s"
}
uticks() {	# user: utime+stime (clock ticks) of the daemon's processes running as user
	local p s=0
	for p in $(pgrep -u "$1" -f "$BIN/cardmgrd"); do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$s"
}
hz=$(getconf CLK_TCK)
mkcsr bench

# --- the baseline: cardmgr-ca as the issue measured it (14.5 ms and 6.8 ms
# of client CPU per operation, "most of it handshakes"): a connection and a
# full TLS handshake per CMP transaction, and a certConf in each
# (keep_alive = 0, tls_resume = no, implicit_confirm = no),
# with the daemon stopped (one token user); then cardmgr-ca as it is now
# (kept connections, resumed sessions), for the record.
daemon_stop
ca_drain_cli() {	# ca.conf lines -> "wall user sys" of cardmgr-ca draining N
	local t u s d
	[ $# -eq 0 ] || printf '%s\n' "$@" >>"$T/ca.conf"
	cli enroll --queue --repeat "$N" --csr "$T/bench.csr" --profile piv-auth >"$T/queue" 2>&1
	grep -q "^queued: $N operations" "$T/queue" ||
		die "cannot journal for cardmgr-ca: $(tail -n 3 "$T/queue")"
	TIMEFORMAT='%R %U %S'
	{ time cli outbox drain >"$T/drain" 2>&1; } 2>"$T/drain.time"
	sed -i '/^keep_alive = /d; /^tls_resume = /d; /^implicit_confirm = /d' "$T/ca.conf"
	d=$(sed -n 's/^drained: \([0-9]*\) done.*/\1/p' "$T/drain")
	[ "$d" = "$N" ] || die "cardmgr-ca drained ${d:-0} of $N: $(tail -n 3 "$T/drain")"
	cat "$T/drain.time"
}
read -r base_t u s <<<"$(ca_drain_cli 'keep_alive = 0' 'tls_resume = no' 'implicit_confirm = no')"
base_cpu=$(calc "$u + $s")
read -r ka_t u s <<<"$(ca_drain_cli)"
ka_cpu=$(calc "$u + $s")
# root touched the token and the CA state: give them back
chown -R cardmgr-keyd: "$T/tokens"; chown -R cardmgr-engine: "$ST"

# --- the daemon
daemon_start || die "cardmgrd did not start"
issued0=$(issued_count)
c0=$(ticks) ca0=$(ticks "$BIN/testca") ng0=$(ticks "nginx: ")
for u in engine keyd api; do eval "u0_$u=\$(uticks cardmgr-$u)"; done
t0=$(now)
"$BIN/outbox_fill" "$T/inv" "$N" "$T/bench.csr" piv-auth >/dev/null || die "outbox_fill failed"
pending() {
	as_auditor "$BIN/cardmgr" -s "$T/run/api.sock" --json status 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["ca"]["pending"])' 2>/dev/null
}
# Wait for the engine's log line of a finished drain ("..., 0 left"), then
# ask the API once: a cheap grep every 0.2 s, not a CLI and a python3 each
# time (they took some 5 % of this 2-core machine from what is measured).
done_lines() { grep -cE 'CA journal: [0-9]+ done.*, 0 left' "$T/cardmgrd.log"; }
m0=$(done_lines)
for ((i = 0; i < 36000; i++)); do
	sleep 0.2
	[ "$(done_lines)" -gt "$m0" ] || continue
	[ "$(pending)" = 0 ] && break
	m0=$(done_lines)
done
t1=$(now)
c1=$(ticks) ca1=$(ticks "$BIN/testca") ng1=$(ticks "nginx: ")
for u in engine keyd api; do eval "u1_$u=\$(uticks cardmgr-$u)"; done
d_issued=$(( $(issued_count) - issued0 ))
[ "$d_issued" -ge "$N" ] || die "the CA issued $d_issued of $N for the daemon"
d_t=$(calc "$t1 - $t0")
d_cpu=$(calc "($c1 - $c0) / $hz")

echo "operations:                   $N p10cr enrollments each way (the baseline with certConf, the rest with implicit confirmation)"
echo "cardmgr-ca drain (baseline):  $(calc "$base_t") s ($(calc "$base_t * 1000 / $N") ms/op), client CPU $(calc "$base_cpu * 1000 / $N") ms/op (a connection, a full handshake and a certConf per transaction)"
echo "cardmgr-ca as it is now:      $(calc "$ka_t") s ($(calc "$ka_t * 1000 / $N") ms/op), client CPU $(calc "$ka_cpu * 1000 / $N") ms/op"
echo "daemon drain:                 $d_t s ($(calc "$d_t * 1000 / $N") ms/op), client CPU $(calc "$d_cpu * 1000 / $N") ms/op (engine + keyd + api)"
per() { local a b; eval "a=\$u0_$1 b=\$u1_$1"; calc "($b - $a) * 1000 / $hz / $N"; }
echo "  of which, per op:           engine $(per engine) ms, keyd (+ its PKCS#11 helper) $(per keyd) ms, api $(per api) ms"
ca_ms=$(calc "($ca1 - $ca0) * 1000 / $hz / $N") ng_ms=$(calc "($ng1 - $ng0) * 1000 / $hz / $N")
echo "server side, per op:          test CA $ca_ms ms CPU, nginx $ng_ms ms CPU (during the daemon's drain)"
echo "CPU-bound floor on $(nproc) cores:   $(calc "($d_cpu * 1000 / $N + $ca_ms + $ng_ms) / $(nproc)") ms/op (client + CA + nginx CPU / cores)"
echo "ratio daemon rate / cardmgr-ca rate: $(calc "$base_t / $d_t" 2)x (goal >= 3x)"
echo "ratio daemon rate / cardmgr-ca as it is now: $(calc "$ka_t / $d_t" 2)x"
echo "ratio client CPU per op, daemon / cardmgr-ca: $(calc "$d_cpu / $base_cpu" 2)"
grep -E 'CA journal: [0-9]+ done' "$T/cardmgrd.log" | tail -n 3 | sed 's/^/# log: /'
daemon_stop
