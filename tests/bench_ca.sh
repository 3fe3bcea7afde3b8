#!/bin/bash
# make bench, CA link: drain a backlog of N journaled enrollments (p10cr
# over nginx mutual TLS with implicit confirmation, which the test CA grants;
# station key in SoftHSM2) against the test CA, next to N runs of the stock
# `openssl cmp` client doing the same transaction (software key,
# -implicit_confirm). Prints times and ratios against that baseline,
# measured in the same run; never pass/fail on time.
#
#   tests/bench_ca.sh BUILD_DIR     BENCH_CA_N (default 10000) operations;
#                                   BENCH_CA_SAMPLE (default 200) openssl runs,
#                                   extrapolated to N when smaller than N.
B=$(cd "${1:?usage: bench_ca.sh BUILD_DIR}" && pwd)
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export BIN=$B/bin TOP
N=${BENCH_CA_N:-10000}
S=${BENCH_CA_SAMPLE:-200}
[ "$S" -gt "$N" ] && S=$N
. "$TOP/tests/ca/caenv.sh"
export CAENV_NO_FSYNC=1	# the test CA skips fsync: the clients are measured
caenv_init "$0" "$@" || { echo "bench_ca: environment failed"; exit 1; }
sed -i '/^idm_url/d' "$T/ca.conf"
enroll_station >/dev/null || { echo "bench_ca: station enrollment failed"; exit 1; }
mkcsr bench
openssl req -inform DER -in "$T/bench.csr" -out "$T/bench.pem" 2>/dev/null

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
fmt() { printf '%.3f' "$1"; }

# --- the station: journal N operations, then one drain
t0=$(now)
cli enroll --queue --repeat "$N" --csr "$T/bench.csr" --profile piv-auth >/dev/null
t1=$(now)
TIMEFORMAT='%R %U %S'
{ time cli outbox drain >"$T/drain" 2>&1; } 2>"$T/drain.time"
t2=$(now)
read -r _ u s <"$T/drain.time"
done_n=$(sed -n 's/^drained: \([0-9]*\) done.*/\1/p' "$T/drain")
queue_t=$(secs "$t0" "$t1"); drain_t=$(secs "$t1" "$t2")
cpu=$(echo "$u + $s" | bc -l)

# --- the baseline: openssl cmp, one process per transaction (sample of S)
t3=$(now)
for i in $(seq 1 "$S"); do
	openssl cmp -cmd p10cr -server ca.test:8443 -path cmp -tls_used -tls_trusted "$PKI/root.crt" \
	    -tls_cert "$PKI/admin.crt" -tls_key "$PKI/admin.key" -cert "$PKI/admin.crt" \
	    -key "$PKI/admin.key" -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" \
	    -csr "$T/bench.pem" -implicit_confirm -certout "$T/o.crt" >/dev/null 2>&1 || echo "openssl cmp run $i failed"
done
t4=$(now)
# The floor: the same client straight to the CA, plain HTTP, no TLS, no nginx.
for i in $(seq 1 "$S"); do
	openssl cmp -cmd p10cr -server 127.0.0.1:8080 -path cmp -cert "$PKI/admin.crt" \
	    -key "$PKI/admin.key" -trusted "$PKI/root.crt" -untrusted "$PKI/ca.crt" \
	    -csr "$T/bench.pem" -implicit_confirm -certout "$T/o.crt" >/dev/null 2>&1 || echo "plain run $i failed"
done
t5=$(now)
floor_op=$(echo "$(secs "$t4" "$t5") / $S" | bc -l)
base_s=$(secs "$t3" "$t4")
base_op=$(echo "$base_s / $S" | bc -l)
base_n=$(echo "$base_op * $N" | bc -l)
op=$(echo "$drain_t / $N" | bc -l)

echo "operations:                   $N p10cr enrollments, implicit confirmation (done: $done_n)"
echo "station journal (LMDB):       $(fmt "$queue_t") s ($(fmt "$(echo "$queue_t * 1000000 / $N" | bc -l)") us/op)"
echo "station drain:                $(fmt "$drain_t") s ($(fmt "$(echo "$op * 1000" | bc -l)") ms/op)"
echo "station client CPU:           $(fmt "$cpu") s ($(fmt "$(echo "$cpu * 1000 / $N" | bc -l)") ms/op user+sys in cardmgr-ca)"
if [ "$S" -lt "$N" ]; then
	echo "openssl cmp baseline:         $(fmt "$base_n") s for $N (extrapolated from $S measured runs: $(fmt "$base_s") s)"
else
	echo "openssl cmp baseline:         $(fmt "$base_n") s for $N runs (all measured)"
fi
echo "openssl cmp per operation:    $(fmt "$(echo "$base_op * 1000" | bc -l)") ms (one process per transaction; mutual TLS via nginx)"
echo "openssl cmp, plain HTTP:      $(fmt "$(echo "$floor_op * 1000" | bc -l)") ms/op straight to the CA (floor: no TLS, no nginx)"
echo "ratio drain / openssl cmp:    $(fmt "$(echo "$drain_t / $base_n" | bc -l)")"
echo "ratio station op / floor:     $(fmt "$(echo "$op / $floor_op" | bc -l)")"
echo "station overhead per op:      $(fmt "$(echo "($op - $base_op) * 1000" | bc -l)") ms vs openssl cmp (negative: faster)"
echo "note: the stock client leaves Nagle on; its head and body TLS records wait for"
echo "      nginx's delayed ACK (~40 ms per message; certConf made it twice per transaction). cardmgr-ca sets TCP_NODELAY."
echo "CA issued in total:           $(issued_count) certificates"
