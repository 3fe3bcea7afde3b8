#!/bin/bash
# make bench, the station daemon (cardmgrd) in the whole station of
# tests/daemon/stationenv.sh: pcscd with virtual readers, virtual cards with
# realistic latency, the test CA behind nginx, cardmgrd's processes under
# their own users. Every figure is printed with its baseline, measured in the
# same run; never pass/fail on time (exit 1 only when the bench itself broke:
# an issuance that did not end "done", an endpoint that did not answer).
#
#   tests/bench_daemon.sh BUILD_DIR
#
#   (d) start to ready (first successful `cardmgr status`) and idle RSS of
#       each process, by user (keyd's PKCS#11 helper as cardmgr-keyd/p11h),
#       with the seccomp filters on and then off: their cost as a ratio;
#   (a) one issuance (profile "contractor": all four keys generated on the
#       card) on a card with --latency-ms 30 --keygen-ms 1500, split into the
#       card's time (trace totals x latency + keygens x keygen time), the PC/SC
#       stack's (APDUs x a pyscard round trip on a card without latency), the
#       CA's (nginx $request_time of every CA link request in the window),
#       the Argon2id hashing of the answers (argon_cost, same libsodium call
#       and cost; shown, not subtracted: it runs next to the card work) and
#       what is left: the station's own share; plus a timeline
#       of the card trace (card busy, host gaps between APDUs);
#   (b) 8 readers issuing at once against that single issuance, with the
#       profile as shipped and with a copy without the PKCS#11 self-test;
#   (e) a replacement and a temporary card, split the same way;
#   (c) wrk against GET /v1/status and GET /v1/cards?state=active on the
#       kiosk listener and, through uds_relay as the auditor, on the CLI
#       socket, next to a libmicrohttpd hello-world (mhd_hello) in the same
#       threading mode on the same paths;
#   (d') RSS again after the load.
# Kernel segfault lines come from dmesg, which is the host's: with other
# stations running on the machine, the station's own log is the authority.
#
# Knobs: BENCH_LATENCY_MS (30), BENCH_KEYGEN_MS (1500), BENCH_PAR (8 readers),
# BENCH_WRK_SECONDS (6), BENCH_WRK_CONNS (8), BENCH_ARGON_OPS / _KIB (the
# product default, 2 / 65536: the stationenv tests use the cheapest cost,
# the bench puts the real one back). BENCH_ONLY_START=1: (d) and the filters'
# on/off comparison only.
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$(cd "${1:?usage: bench_daemon.sh BUILD_DIR}" && pwd)/bin}
export TOP BIN
LAT=${BENCH_LATENCY_MS:-30}
KG=${BENCH_KEYGEN_MS:-1500}
PAR=${BENCH_PAR:-8}
WRK_S=${BENCH_WRK_SECONDS:-6}
WRK_C=${BENCH_WRK_CONNS:-8}
A_OPS=${BENCH_ARGON_OPS:-2}
A_KIB=${BENCH_ARGON_KIB:-65536}
PROFILE=contractor
NQ=4	# the contractor profile enrols 4 answers
export PCSCENV_READERS=$(( (PAR + 1) / 2 * 2 ))
for p in cardmgrd cardmgr testca vcard mhd_hello argon_cost uds_relay; do
	[ -x "$BIN/$p" ] || { echo "bench_daemon: $BIN/$p missing (make build)"; exit 1; }
done
command -v wrk >/dev/null || { echo "bench_daemon: wrk missing (apt-get install wrk)"; exit 1; }
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "bench_daemon: station environment failed"; exit 1; }

segv0=$(dmesg 2>/dev/null | grep -c 'cardmgrd\[.*segfault')
new_segv() {	# kernel lines of cardmgrd segfaults since the bench started
	dmesg 2>/dev/null | grep 'cardmgrd\[.*segfault' | tail -n +$((segv0 + 1)) |
	    grep -o 'segfault at .* in [^[ ]*' | paste -sd ';'
}
die() { echo "bench_daemon: $*"; [ -n "${KEEP:-}" ] || tail -n 20 "$T/cardmgrd.log"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# Stop cardmgrd even when an engine thread is stuck: SIGTERM, 5 s, then
# SIGKILL to the station's own processes (this namespace sees no others).
force_restart() {
	local p i
	p=$(cat "$T/pids/cardmgrd" 2>/dev/null)
	[ -n "$p" ] && kill "$p" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	for p in $(pgrep -f "$T/etc/cardmgrd.conf"); do kill -9 "$p" 2>/dev/null; done
	wait "$(cat "$T/pids/cardmgrd" 2>/dev/null)" 2>/dev/null
	rm -f "$T/pids/cardmgrd"
	daemon_start
}

# ---- (d) start to ready, idle RSS
ready_time() {	# start cardmgrd, poll status as fast as the CLI goes -> $ready
	local t0 i
	daemon_stop
	t0=$(now)
	"$BIN/cardmgrd" -d -c "$T/etc/cardmgrd.conf" >>"$T/cardmgrd.log" 2>&1 &
	echo $! >"$T/pids/cardmgrd"
	for ((i = 0; i < 2000; i++)); do
		if as_auditor "$BIN/cardmgr" -s "$T/run/api.sock" status >/dev/null 2>&1; then
			ready=$(calc "$(now) - $t0")
			return 0
		fi
		sleep 0.005
	done
	return 1
}
rss_list() {	# "user[/p11h] kB" per cardmgrd process (keyd's helper by its name)
	local p u r
	for p in $(pgrep -f "cardmgrd -d"); do
		u=$(stat -c %U "/proc/$p")
		[ "$(cat "/proc/$p/comm")" = p11h ] && u=$u/p11h
		r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")
		echo "$u $r"
	done | sort
}
rss() {	# label: VmRSS of every cardmgrd process, by user
	echo "RSS $1:$(rss_list | awk '{ printf " %s=%skB", $1, $2 }')"
}

# The product's Argon2id cost, not the tests' cheapest one; and a copy of
# the profile without the PKCS#11 self-test for (b) (see there why).
cp "$TOP"/provisioning/profiles/* "$T/etc/profiles/"
sed -e 's/^name = "contractor";/name = "contractor-nst";/' \
    -e 's/^self_test = true;/self_test = false;/' \
    "$T/etc/profiles/contractor.conf" >"$T/etc/profiles/contractor-nst.conf"
chmod -R go-w "$T/etc"
starts=""
for i in 1 2 3; do
	ready_time || die "cardmgrd did not become ready"
	starts="$starts $ready"
done
sleep 2
echo "== (d) start to ready (cardmgrd launched -> first successful 'cardmgr status'), 3 starts:$starts s"
rss "idle, 2 s after start"
rss_list >"$T/rss.on"

# ---- (d) again with the seccomp filters off (seccomp = "off" in
# cardmgrd.conf: cardmgrd warns at every start; docs/daemon.md, "Sandbox"):
# the filters' cost as a ratio, filters on / off, in the same run. The starts
# alternate off, on, off, on ... so that a machine getting busier or quieter
# during the run weighs on both sides alike.
seccomp_mode() { sed -i "s/^seccomp = .*/seccomp = \"$1\";/" "$T/etc/cardmgrd.conf"; }
on_s="" off_s=""
for i in 1 2 3 4 5; do
	seccomp_mode off
	ready_time || die "cardmgrd did not become ready (filters off)"
	off_s="$off_s $ready"
	seccomp_mode enforce
	ready_time || die "cardmgrd did not become ready (filters on)"
	on_s="$on_s $ready"
done
seccomp_mode off
ready_time || die "cardmgrd did not become ready (filters off)"
sleep 2
grep -q 'seccomp = "off"' "$T/cardmgrd.log" || die "filters-off run: no warning logged"
rss "idle, 2 s after start, filters off"
rss_list >"$T/rss.off"
seccomp_mode enforce
ready_time || die "cardmgrd did not become ready (filters back on)"
sleep 2
med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | sed -n 3p; }
echo "== (d) filters on / off, 5 starts each, alternating: on$on_s s; off$off_s s"
echo "   start to ready (median of 5): $(med "$on_s") / $(med "$off_s") s = $(calc "$(med "$on_s") / $(med "$off_s")" 2)x"
join "$T/rss.on" "$T/rss.off" | awk '{ printf "   idle RSS %-22s %6d / %6d kB = %.2fx\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0) }'

[ "${BENCH_ONLY_START:-0}" = 1 ] && { echo "(BENCH_ONLY_START=1: (a)-(c) skipped)"; exit 0; }

# ---- the CA link's time as nginx sees it
sed -i "s/log_format station '/log_format station 'rt=\$request_time urt=\$upstream_response_time /" "$T/nginx.conf"
nginx -p "$T/nginx" -c "$T/nginx.conf" -s reload 2>/dev/null || die "nginx reload"
sleep 0.5
ca_lines() { wc -l <"$T/nginx/access.log"; }
ca_time() {	# from-line: sum of rt= of the requests logged after it
	awk -v from="$1" 'NR > from { for (i = 1; i <= NF; i++) if ($i ~ /^rt=/) { sub(/^rt=/, "", $i); s += $i; n++ } }
	    END { printf "%.3f %d", s, n }' "$T/nginx/access.log"
}

totals() {	# trace file: "apdus" from its last totals line
	sed -n 's/^vcard-trace-totals apdus=\([0-9]*\).*/\1/p' "$1" | tail -n 1
}
snap() {	# reader index: ask the card for its totals now, print them
	local f=$T/trace$1 n0
	n0=$(grep -c '^vcard-trace-totals' "$f" 2>/dev/null)
	kill -USR1 "$(cat "$T/pids/vcard$1")"
	for ((j = 0; j < 100; j++)); do
		[ "$(grep -c '^vcard-trace-totals' "$f")" -gt "${n0:-0}" ] && break
		sleep 0.01
	done
	totals "$f"
}
insert() {	# reader serial
	rm -f "$T/trace$1"
	# Issuance takes blank cards only from stock (docs/lifecycle.md).
	cm officer stock receive --model piv-yubico --location desk --serials "$2" \
	    >/dev/null || die "card $2 not received into stock"
	vcard_insert "$1" "$T/card$2.state" --create --serial "$2" \
	    --latency-ms "$LAT" --keygen-ms "$KG" --trace "$T/trace$1" >/dev/null ||
	    die "card $2 did not come up in reader $1"
}
issue() {	# reader holder -> operation id
	local q=() k
	for ((k = 1; k <= NQ; k++)); do q+=(--question "$k"); done
	printf '461937\n' >"$T/s.$1"
	for ((k = 1; k <= NQ; k++)); do printf 'answer number %d\n' "$k" >>"$T/s.$1"; done
	for ((k = 0; k < 50; k++)); do	# the watcher may still hold it: 409
		cm security --json --secrets-fd 3 issue --reader "$(reader_name "$1")" \
		    --holder "$2" --profile "$PROFILE" "${q[@]}" 3<"$T/s.$1" \
		    >"$T/issue.$1.json" 2>"$T/issue.$1.err"
		grep -q reader_busy "$T/issue.$1.err" || break
		sleep 0.02
	done
	# 202: the CLI exits 3 ("accepted, not finished"); the JSON says which op.
	json "$T/issue.$1.json" 'j["operation"]' 2>/dev/null ||
	    die "issue on reader $1 refused: $(cat "$T/issue.$1.json")"
}
op_state() { cm officer --json op show "$1" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }
# follow OP: in the background, `cardmgr --wait op show` (the engine answers
# when the operation ends, no polling) and the time it returned, into
# $T/end.OP ("TIME STATE"). The bench's clock stops when the station says.
follow() {
	( cm officer --json --wait op show "$1" >"$T/op.$1.json" 2>/dev/null
	  t=$(now)
	  echo "$t $(json "$T/op.$1.json" 'j["state"]' 2>/dev/null)" >"$T/end.$1.tmp"
	  mv "$T/end.$1.tmp" "$T/end.$1" ) &
}

# ---- the PC/SC stack's own cost per APDU (pcscd + vpcd + the card's
# socket), on a card without latency: 400 SELECTs from one pyscard client.
pcsc_apdu() {
	/usr/bin/python3 - "$(reader_name 1)" <<'PY'
import sys, time
from smartcard.System import readers
r = next(x for x in readers() if str(x) == sys.argv[1])
c = r.createConnection(); c.connect()
sel = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]
for _ in range(20): c.transmit(sel)
t = time.monotonic()
for _ in range(400):
    d, sw1, sw2 = c.transmit(sel)
    if sw1 != 0x90: sys.exit("SELECT PIV: %02X%02X" % (sw1, sw2))
print("%.6f" % ((time.monotonic() - t) / 400))
PY
}
rm -f "$T/trace1"
vcard_insert 1 "$T/card7999.state" --create --serial 7999 >/dev/null || die "baseline card"
pcsc=$(pcsc_apdu) || die "PC/SC baseline"
vcard_remove 1

# ---- (a) one issuance
cm officer holders add --id B0 --name "Bench Holder 0" --email b0@example.com >/dev/null ||
    die "holder add"
insert 0 8000
# Timestamp every trace line as it is written (the card logs a command when
# it arrives and its response just before sending it): card-busy time and
# the host's gaps between APDUs, independently of the latency arithmetic.
/usr/bin/python3 -u - "$T/trace0" "$T/timeline0" <<'PY' &
import sys, time
f = open(sys.argv[1]); f.seek(0, 2)
out = open(sys.argv[2], "w")
while True:
    l = f.readline()
    if l:
        out.write("%.6f %s" % (time.time(), l)); out.flush()
    else:
        time.sleep(0.0005)
PY
echo $! >"$T/pids/timeline"
sleep 0.3
a0=$(snap 0)
l0=$(ca_lines)
t0=$(now)
op=$(issue 0 B0) || { echo "$op"; exit 1; }
t202=$(now)
follow "$op"
wait $!
read -r t1 st <"$T/end.$op"
[ "$st" = done ] || die "issuance ended $st"
[ "$(cm officer --json cards show 8000 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"], len(j["certificates"]))')" = "active 4" ] ||
    die "the inventory does not show card 8000 active with 4 certificates"
a1=$(snap 0)
sleep 0.1
kill "$(cat "$T/pids/timeline")"
read -r ca_s ca_n <<<"$(ca_time "$l0")"
kg=$(grep -c 'ins=47' "$T/trace0")
apdus=$((a1 - a0))
"$BIN/argon_cost" "$A_OPS" "$A_KIB" "$NQ" >"$T/argon" || die "argon_cost"
argon=$(sed -n 's/.*seconds=//p' "$T/argon")
total=$(calc "$t1 - $t0")
card=$(calc "$apdus * $LAT / 1000 + $kg * $KG / 1000")
stack=$(calc "$apdus * $pcsc")
# The answers are hashed in a thread next to the card work (issue.c), off
# the critical path: their Argon2id time is shown, not subtracted.
own=$(calc "$total - $card - $stack - $ca_s")
echo "== (a) one issuance, profile $PROFILE, card latency ${LAT} ms/APDU, keygen ${KG} ms"
echo "total, CLI start -> op done:  $total s (202 after $(calc "$t202 - $t0") s; the end as 'cardmgr --wait op show' returns it)"
echo "card:                         $card s ($apdus APDUs x $LAT ms + $kg keygens x $KG ms; the card's own CPU not counted)"
echo "PC/SC stack:                  $stack s ($apdus APDUs x $(calc "$pcsc * 1000") ms, pcscd+vpcd round trip measured on a card without latency)"
echo "CA link (nginx request_time): $ca_s s over $ca_n requests"
echo "Argon2id, $NQ answers:         $argon s (ops=$A_OPS mem=${A_KIB} KiB, argon_cost; hashed next to the card work, not subtracted)"
echo "station's own:                $own s = $(calc "100 * $own / $total" 2) % of total (goal < 2 %; includes the CLI and OpenSC in the self-test)"
echo "station's own, PC/SC stack counted as station: $(calc "$own + $stack") s = $(calc "100 * ($own + $stack) / $total" 2) %"
awk -v t0="$t0" -v t1="$t1" '
	$2 == ">" { if (resp) gap[++n] = $1 - resp; if (resp) what[n] = $4; if (!first) first = $1; cmd = $1 }
	$2 == "<" && cmd { busy += $1 - cmd; resp = $1; cmd = 0 }
	END {
		for (i = 1; i <= n; i++) g += gap[i]
		printf "timeline (trace lines timestamped as written): card busy %.3f s; host between APDUs %.3f s", busy, g
		printf "; before the first APDU %.3f s; after the last response %.3f s\n", first - t0, t1 - resp
		printf "  largest host gaps:"
		for (k = 0; k < 6; k++) { m = 0; for (i = 1; i <= n; i++) if (gap[i] > gap[m]) m = i
			if (m) { printf " %.3f s before %s;", gap[m], what[m]; gap[m] = -1 } }
		printf "\n"
	}' "$T/timeline0"

# ---- (b) PAR readers at once
running_threads() {	# where the engine's threads wait (kernel wchan), counted
	local p t
	for p in $(pgrep -f "$T/etc/cardmgrd.conf"); do
		[ "$(stat -c %U "/proc/$p")" = cardmgr-engine ] || continue
		for t in /proc/$p/task/*; do cat "$t/wchan"; echo; done
	done | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }'
}
# run_par PROFILE N FIRSTSERIAL: N cards issued at once on readers 0..N-1;
# sets par (wall s), ndone, nfailed, fins (each op's end, s from the start).
run_par() {
	local prof=$1 n=$2 base=$3 r o st p
	local -A fin=()
	local ops=()
	for ((r = 0; r < n; r++)); do
		cm officer holders add --id "P$((base + r))" --name "Bench Holder $((base + r))" \
		    --email "p$((base + r))@example.com" >/dev/null || die "holder add P$((base + r))"
		insert "$r" $((base + r))
	done
	PROFILE=$prof
	t0=$(now)
	# The N requests go in at once, as N officers at N readers would (one
	# CLI after another took ~0.25 s each, and the ends followed the starts).
	local subs=()
	for ((r = 0; r < n; r++)); do
		rm -f "$T/op.r$r"
		( o=$(issue "$r" "P$((base + r))") && echo "$o" >"$T/op.r$r" ) &
		subs+=($!)
	done
	for p in "${subs[@]}"; do wait "$p"; done
	for ((r = 0; r < n; r++)); do
		o=$(cat "$T/op.r$r" 2>/dev/null) || die "issue on reader $r refused: $(cat "$T/issue.$r.json")"
		ops+=("$o")
		follow "$o"
	done
	ndone=0 nfailed=0 crashed="" last=$t0
	while [ $((ndone + nfailed)) -lt "$n" ]; do
		sleep 0.05
		# A crashed or stuck engine: note it, count the rest as failed,
		# and bring the station back for the next measurement.
		if ! kill -0 "$(cat "$T/pids/cardmgrd")" 2>/dev/null; then
			crashed=$(grep -o 'engine exited.*' "$T/cardmgrd.log" | tail -n 1)
		elif [ "$(calc "$(now) - $last" 0)" -gt 30 ]; then
			crashed="no operation ended for 30 s: engine threads stuck ($(running_threads))"
		fi
		if [ -n "$crashed" ]; then
			nfailed=$((n - ndone))
			force_restart || die "cardmgrd did not come back"
			break
		fi
		for o in "${ops[@]}"; do
			[ -n "${fin[$o]:-}" ] && continue
			[ -f "$T/end.$o" ] || continue
			read -r last st <"$T/end.$o"
			fin[$o]="$(calc "$last - $t0" 2)"; [ "$st" = done ] || fin[$o]="${fin[$o]}($st)"
			if [ "$st" = done ]; then ndone=$((ndone + 1)); else nfailed=$((nfailed + 1)); fi
		done
	done
	par=$t0
	for o in "${ops[@]}"; do	# the last end the station reported
		[ -f "$T/end.$o" ] && read -r last st <"$T/end.$o" &&
		    [ "$(calc "($last > $par)" 0)" = 1 ] && par=$last
	done
	par=$(calc "$par - $t0")
	fins=""
	for o in "${ops[@]}"; do fins="$fins ${fin[$o]:-stuck}"; done
	for ((r = 0; r < n; r++)); do vcard_remove "$r"; done
	PROFILE=contractor
}
vcard_remove 0
l0=$(ca_lines)
run_par contractor "$PAR" 8100
read -r ca_p ca_pn <<<"$(ca_time "$l0")"
echo "== (b) $PAR readers issuing at once vs 1"
echo "profile contractor (self-test on): $ndone done, $nfailed failed or stuck in $par s (ends:$fins s)"
[ -n "$crashed" ] && echo "  the station failed during the run: $crashed"
segv=$(new_segv); [ -n "$segv" ] && echo "  kernel: cardmgrd $segv"
if [ "$nfailed" -gt 0 ]; then
	echo "  failed: $(grep -o 'issue on .* failed: [^(]*' "$T/cardmgrd.log" | sed 's/.*failed: //' | sort | uniq -c | tr -s ' ' | paste -sd ';')"
	echo "  (each issue thread runs the OpenSC PKCS#11 self-test with its own C_Initialize/C_Finalize"
	echo "   of the one process-wide module: concurrent threads finalize it under each other)"
fi
echo "  throughput vs 1 reader: $(calc "$ndone * $total / $par" 2)x counting done cards only; CA link busy $ca_p s over $ca_pn requests"
run_par contractor-nst 1 8200
one=$par
run_par contractor-nst "$PAR" 8300
echo "profile contractor-nst (self-test off), 1 reader: $one s; $PAR readers: $ndone done, $nfailed failed in $par s (ends:$fins s)"
echo "  throughput ratio: $(calc "$ndone * $one / $par" 2)x (goal >= 7x)"

# ---- (e) a replacement and a temporary card, split like (a): card 8000
# (issued in (a), contractor: no escrowed key to recover) replaced as damaged
# by card 8001, then card 8002 lent while 8001 is at home (its certificates
# held). The card's time is what the new card's trace counts.
lifecycle_op() {	# name who reader cardserial cmd...: prints the split
	local name=$1 who=$2 rd=$3 sn=$4; shift 4
	local a0 a1 l0 t0 t1 o st k apdus kg card stack ca_s ca_n own
	insert "$rd" "$sn"
	sleep 0.3
	a0=$(snap "$rd"); l0=$(ca_lines); t0=$(now)
	printf '461937\n' >"$T/s.lc"
	for ((k = 0; k < 50; k++)); do
		cm "$who" --json --secrets-fd 3 "$@" --reader "$(reader_name "$rd")" \
		    3<"$T/s.lc" >"$T/lc.json" 2>"$T/lc.err"
		grep -q reader_busy "$T/lc.err" || break
		sleep 0.02
	done
	o=$(json "$T/lc.json" 'j["operation"]' 2>/dev/null) ||
	    die "$name refused: $(cat "$T/lc.json" "$T/lc.err")"
	follow "$o"
	wait $!
	read -r t1 st <"$T/end.$o"
	[ "$st" = done ] || die "$name ended $st"
	a1=$(snap "$rd")
	read -r ca_s ca_n <<<"$(ca_time "$l0")"
	apdus=$((a1 - a0))
	kg=$(grep -c 'ins=47' "$T/trace$rd")
	t1=$(calc "$t1 - $t0")
	card=$(calc "$apdus * $LAT / 1000 + $kg * $KG / 1000")
	stack=$(calc "$apdus * $pcsc")
	own=$(calc "$t1 - $card - $stack - $ca_s")
	echo "$name: total $t1 s; card $card s ($apdus APDUs, $kg keygens); PC/SC $stack s; CA $ca_s s over $ca_n requests; station's own $own s = $(calc "100 * $own / $t1" 2) % (goal < 2 %)"
}
echo "== (e) replacement and temporary card, card latency ${LAT} ms/APDU, keygen ${KG} ms"
lifecycle_op "replacement (8000 damaged -> 8001)" security 0 8001 replace 8000 --reason damaged
vcard_remove 0
# A contractor's temporary card takes the contractor profile's temporary
# role (security officer) and the temporary profile's issue role (badge
# officer, help desk): the bench's badge officer gets both for it.
sed -i "s/{ uid = $OFFICER; name = \"Olivia Officer\"; roles = \[ \"badge_officer\" \]/{ uid = $OFFICER; name = \"Olivia Officer\"; roles = [ \"badge_officer\", \"security_officer\" ]/" "$T/etc/operators.conf"
grep -q '"badge_officer", "security_officer"' "$T/etc/operators.conf" || die "operators.conf: the officer's second role"
force_restart >/dev/null || die "cardmgrd did not come back"
lifecycle_op "temporary card (8001 at home -> 8002)" officer 1 8002 temporary 8001
vcard_remove 1

# ---- (c) the API under wrk
# The kiosk listener (TCP 8410) serves the "holder" role: /v1/status answers
# it, /v1/cards answers 403 after the engine's role check. For the operator
# view the bench relays TCP 8411 to the CLI's UNIX socket as the auditor
# (uds_relay), and puts the hello-world behind the same relay.
"$BIN/mhd_hello" -p 8420 & echo $! >"$T/pids/hello_tcp"
"$BIN/mhd_hello" -u "$T/run/hello.sock" & echo $! >"$T/pids/hello_unix"
sleep 0.3
chmod 666 "$T/run/hello.sock"
as_auditor "$BIN/uds_relay" 8411 "$T/run/api.sock" & echo $! >"$T/pids/relay_api"
as_auditor "$BIN/uds_relay" 8421 "$T/run/hello.sock" & echo $! >"$T/pids/relay_hello"
for p in 8410 8411 8420 8421; do wait_port "$p" || die "nothing on port $p"; done
code() { curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$1$2"; }
[ "$(code 8410 /v1/status)" = 200 ] || die "kiosk /v1/status: not 200"
[ "$(code 8410 '/v1/cards?state=active')" = 403 ] || die "kiosk /v1/cards: not 403"
[ "$(code 8411 '/v1/cards?state=active')" = 200 ] || die "operator /v1/cards: not 200"
ncards=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); l=j if isinstance(j,list) else next(v for v in j.values() if isinstance(v,list)); print(len(l))' "$T/body" 2>/dev/null)
bytes=$(wc -c <"$T/body")
[ "$(code 8421 /)" = 200 ] || die "hello via relay: not 200"
bench() {	# port path -> "req/s p99 non2xx"; restarts a station that died
	wrk -t2 -c"$WRK_C" -d"${WRK_S}s" --latency "http://127.0.0.1:$1$2" >"$T/wrk" 2>&1
	awk '/^Requests\/sec/ { r = $2 } / 99%/ { p = $2 } /Non-2xx/ { n = $NF }
	    END { printf "%s %s %s", r, p, (n ? n : 0) }' "$T/wrk"
	if ! kill -0 "$(cat "$T/pids/cardmgrd")" 2>/dev/null; then
		printf ' DIED'
		echo "station died under wrk on $2: $(grep -v 'engine gave no answer' "$T/cardmgrd.log" | tail -n 2 | paste -sd ' ')" >>"$T/died"
		force_restart >/dev/null 2>&1
	fi
}
row() { printf '%-44s %10s %10s %6s %8s %s\n' "$@"; }
read -r h_r h_p _ <<<"$(bench 8420 /)"
read -r s_r s_p s_n s_d <<<"$(bench 8410 /v1/status)"
read -r hr_r hr_p _ <<<"$(bench 8421 /)"
read -r o_r o_p o_n o_d <<<"$(bench 8411 /v1/status)"
read -r c_r c_p c_n c_d <<<"$(bench 8411 '/v1/cards?state=active')"
read -r k_r k_p k_n k_d <<<"$(bench 8410 '/v1/cards?state=active')"
echo "== (c) API under wrk (-t2 -c$WRK_C ${WRK_S}s each; ratio = station / hello-world on the same path; goal >= 0.5x)"
row "" "req/s" "p99" "non2xx" "ratio"
row "mhd_hello, TCP" "$h_r" "$h_p" 0 "1.00"
row "kiosk GET /v1/status" "$s_r" "$s_p" "$s_n" "$(calc "$s_r / $h_r" 2)" "${s_d:-}"
row "mhd_hello, via relay to UNIX socket" "$hr_r" "$hr_p" 0 "1.00"
row "auditor GET /v1/status via relay" "$o_r" "$o_p" "$o_n" "$(calc "$o_r / $hr_r" 2)" "${o_d:-}"
row "auditor GET /v1/cards?state=active, relay" "$c_r" "$c_p" "$c_n" "$(calc "$c_r / $hr_r" 2)" "${c_d:-}"
row "kiosk GET /v1/cards?state=active (403)" "$k_r" "$k_p" "$k_n" "$(calc "$k_r / $h_r" 2)" "${k_d:-}"
echo "(/v1/cards?state=active answered $ncards cards, $bytes bytes)"
[ -f "$T/died" ] && sed 's/^/  /' "$T/died"
segv=$(new_segv); [ -n "$segv" ] && echo "  kernel: cardmgrd $segv"
for f in hello_tcp hello_unix relay_api relay_hello; do kill "$(cat "$T/pids/$f")" 2>/dev/null; done

# ---- (d') after the load
sleep 1
rss "after $((3 * PAR + 2)) issuances and the wrk runs"
exit 0
