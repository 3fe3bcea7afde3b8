#!/bin/bash
# make bench, the kiosk UI (issue 9, "make bench") in the whole station of
# tests/daemon/stationenv.sh (pcscd with virtual readers, virtual cards with
# realistic latency, the test CA behind nginx, cardmgrd serving kiosk-ui/).
# Every figure is printed with its baseline, measured in the same run, and
# the ratio; never pass/fail on time (exit 1 only when the bench itself
# broke: a card that did not come up, a page that never showed it, an
# issuance that did not end "done", an endpoint that did not answer).
#
#   tests/bench_ui.sh BUILD_DIR
#
#   (a) card insertion (vcard starts in reader 0) -> the kiosk's journey
#       screen updating, in headless Chromium (tests/ui/bench_insert.mjs):
#       the reader bar showing the card and the #pin screen (journey 3)
#       moving on to the current-PIN step; baseline: the same insertion ->
#       `cardmgr --json readers` listing the card (the CLI asked as fast as it
#       goes); also pcscd seeing it and the raw GET /v1/readers round trip;
#   (b) API p99 (wrk) on GET /v1/status and on a page asset (/ui/js/app.js)
#       while 8 readers issue (each issuance followed by a long-poll, as the
#       kiosk does), next to the same with the station idle.
#
# Knobs: BENCH_UI_ROUNDS (10 insertions each way), BENCH_PAR (8 readers),
# BENCH_LATENCY_MS (30), BENCH_KEYGEN_MS (1500), BENCH_WRK_SECONDS (6),
# BENCH_WRK_CONNS (4 per wrk: two run side by side, one per path).
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$(cd "${1:?usage: bench_ui.sh BUILD_DIR}" && pwd)/bin}
export TOP BIN
ROUNDS=${BENCH_UI_ROUNDS:-10}
PAR=${BENCH_PAR:-8}
LAT=${BENCH_LATENCY_MS:-30}
KG=${BENCH_KEYGEN_MS:-1500}
WRK_S=${BENCH_WRK_SECONDS:-6}
WRK_C=${BENCH_WRK_CONNS:-4}
PROFILE=contractor
NQ=4	# the contractor profile enrols 4 answers
# (a) and (b) run in two stations: (a) with the kiosk's readers (the holder's
# and the operator's: BENCH_UI_READERS, 2), (b) with PAR readers.
if [ -z "${BENCH_UI_PART:-}" ]; then
	rc=0
	BENCH_UI_PART=a PCSCENV_READERS=${BENCH_UI_READERS:-2} bash "$0" "$@" || rc=1
	BENCH_UI_PART=b PCSCENV_READERS=$(( (PAR + 1) / 2 * 2 )) bash "$0" "$@" || rc=1
	exit $rc
fi
for p in cardmgrd cardmgr testca vcard; do
	[ -x "$BIN/$p" ] || { echo "bench_ui: $BIN/$p missing (make build)"; exit 1; }
done
command -v wrk >/dev/null || { echo "bench_ui: wrk missing (make deps)"; exit 1; }
if [ ! -d "$TOP/tests/ui/node_modules/playwright-core" ] ||
    [ ! -d "$TOP/kiosk-ui/node_modules/libsodium-wrappers" ] || [ ! -x /usr/bin/chromium ]; then
	echo "bench_ui: make ui-deps (npm ci) and chromium (make deps) first"
	exit 1
fi
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "bench_ui: station environment failed"; exit 1; }
. "$TOP/tests/daemon/lib.sh"

K=http://127.0.0.1:8410
R0=$(reader_name 0)
die() { echo "bench_ui: $*"; tail -n 20 "$T/cardmgrd.log"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# stats: numbers on stdin -> "median max n"
stats() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "- - 0"; exit }
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%.3f %.3f %d\n", m, v[NR], NR }'; }

if [ "$BENCH_UI_PART" = a ]; then
# ---- (a) card insertion -> the journey screen
# An active card for journey 3, issued through the CLI; then pulled.
cm officer holders add --id E100 --name "Bench Holder" >/dev/null || die "holder add"
vcard_insert 0 "$T/card0.state" --create --serial 5101 --latency-ms "$LAT" >/dev/null ||
    die "card 5101 did not come up"
op=$(issue_temp "$R0" 5101 461937)
[ "$(wait_op "$op")" = done ] || die "the card for (a) was not issued"
vcard_remove 0 || die "card 5101 did not come out"
insert0() {	# -> "T0 T1": vcard started, pcscd sees the card
	local t0 t1
	t0=$(now)
	vcard_insert 0 "$T/card0.state" --latency-ms "$LAT" >/dev/null || return 1
	t1=$(now)
	echo "$t0 $t1"
}

# The baseline: the CLI over the UNIX socket, asked again as soon as it
# answers, until reader 0 shows the card (no browser running).
cli_sees() {	# -> seconds from the insertion to the CLI listing the card
	local t0 i
	t0=$(now)
	"$BIN/vcard" --port "$(reader_port 0)" --state "$T/card0.state" --latency-ms "$LAT" \
	    >>"$T/vcard0.log" 2>&1 &
	echo $! >"$T/pids/vcard0"
	for ((i = 0; i < 2000; i++)); do
		# Only reader 0 ever holds a card in (a): a grep is the whole check.
		cm auditor --json readers 2>/dev/null | grep -q '"state": *"card"' &&
		    { calc "$(now) - $t0"; return 0; }
	done
	return 1
}
: >"$T/a.cli"
for ((i = 0; i < ROUNDS; i++)); do
	sleep "0.$((RANDOM % 10))"
	cli_sees >>"$T/a.cli" || die "the CLI never listed the card in reader 0"
	echo >>"$T/a.cli"
	vcard_remove 0 || die "card 5101 did not come out"
done
vcard_insert 0 "$T/card0.state" --latency-ms "$LAT" >/dev/null || die "card 5101"
: >"$T/a.rt"
for ((i = 0; i < 20; i++)); do
	curl -s -o "$T/rd.body" -w '%{time_total}\n' "$K/v1/readers" >>"$T/a.rt" || die "GET /v1/readers"
done
grep -q '"state": *"card"' "$T/rd.body" || die "GET /v1/readers does not list the card"
t0=$(now)
for ((i = 0; i < 10; i++)); do cm auditor --json readers >/dev/null || die "cardmgr readers"; done
cli1=$(calc "($(now) - $t0) / 10")
vcard_remove 0 || die "card 5101 did not come out"

# The browser: tests/ui/bench_insert.mjs asks for each insertion and pull.
: >"$T/a.page"
ui_do() {
	case $1 in
	insert) insert0 || echo failed ;;
	pull) vcard_remove 0 && echo done || echo failed ;;
	*) echo unknown ;;
	esac
}
coproc UI { cd "$TOP/tests/ui" && UI_URL=$K UI_PROFILE=$T/chromium UI_READER=$R0 \
    BENCH_UI_ROUNDS=$ROUNDS exec node bench_insert.mjs 2>"$T/node.err"; }
ui_pid=$UI_PID
broke=""
while IFS= read -r line <&"${UI[0]}"; do
	case $line in
	'@@round '*) echo "${line#@@round }" >>"$T/a.page" ;;
	'@@notok '*) broke="$broke ${line#@@notok }" ;;
	'@@do '*) ui_do ${line#@@do } >&"${UI[1]}" ;;
	'@@ok '*) ;;
	*) echo "$line" ;;
	esac
done
wait "$ui_pid" || broke="$broke (node exit $?)"
[ -z "$broke" ] || { sed 's/^/# node: /' "$T/node.err"; die "the browser rounds broke:$broke"; }
read -r cli_m cli_x cli_n <<<"$(grep . "$T/a.cli" | stats)"
read -r rt_m rt_x _ <<<"$(stats <"$T/a.rt")"
read -r bar_m bar_x bar_n <<<"$(cut -d' ' -f1 "$T/a.page" | stats)"
read -r scr_m scr_x _ <<<"$(cut -d' ' -f2 "$T/a.page" | stats)"
read -r pc_m pc_x _ <<<"$(cut -d' ' -f3 "$T/a.page" | stats)"
[ "$bar_n" = "$ROUNDS" ] && [ "$cli_n" = "$ROUNDS" ] || die "rounds missing: page $bar_n, CLI $cli_n"
echo "== (a) card insertion (vcard starts in reader 0 of $PCSCENV_READERS, card latency ${LAT} ms/APDU) -> the kiosk shows it; $ROUNDS rounds each, median / max"
printf '%-62s %7s s %7s s %s\n' \
    "baseline: \`cardmgr --json readers\` lists the card (CLI looped)" "$cli_m" "$cli_x" "1.00" \
    "page: the reader bar shows the card (Chromium, #pin)" "$bar_m" "$bar_x" "$(calc "$bar_m / $cli_m" 2)x" \
    "page: the #pin screen moves on to the current-PIN step" "$scr_m" "$scr_x" "$(calc "$scr_m / $cli_m" 2)x" \
    "(pcscd sees the card: vcard_insert, opensc-tool every 50 ms)" "$pc_m" "$pc_x" ""
echo "GET /v1/readers round trip with the card in, $((PCSCENV_READERS - 1)) reader(s) empty (curl, 20x): median $rt_m s, max $rt_x s;"
echo "  the page asks it every $(sed -n 's/^export const POLL_MS = \([0-9]*\);.*/\1/p' "$TOP/kiosk-ui/js/readers.js") ms (readers.js POLL_MS);" \
    "one \`cardmgr --json readers\` with the card in takes $cli1 s"

exit 0
fi

# ---- (b) API p99 while PAR readers issue, next to the station idle
# The product's Argon2id cost and profiles (as bench_daemon.sh).
cp "$TOP"/provisioning/profiles/* "$T/etc/profiles/"
chmod -R go-w "$T/etc"
daemon_stop
daemon_start || die "cardmgrd did not restart with the product profiles"
code() { curl -s -o /dev/null -w '%{http_code}' "$K$1"; }
[ "$(code /v1/status)" = 200 ] || die "GET /v1/status: not 200"
[ "$(code /ui/js/app.js)" = 200 ] || die "GET /ui/js/app.js: not 200"
# What the kiosk's reader bar costs with every reader empty (readers.js gives
# up on an answer after 8 s).
empty_rt=$(curl -s -o "$T/rd.body" -m 120 -w '%{time_total}' "$K/v1/readers") || die "GET /v1/readers"
empty_rt=$(calc "$empty_rt")
ms() {	# wrk latency (250.00us, 1.23ms, 1.20s, 2.00m) -> ms
	awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0
	    f = u == "us" ? 0.001 : u == "ms" ? 1 : u == "s" ? 1000 : u == "m" ? 60000 : -1
	    if (f < 0) print "?"; else printf "%.2f", n * f }'
}
wrk_both() {	# tag: wrk on /v1/status and /ui/js/app.js side by side
	wrk -t1 -c"$WRK_C" -d"${WRK_S}s" --latency "$K/v1/status" >"$T/wrk.$1.status" 2>&1 &
	local a=$!
	wrk -t1 -c"$WRK_C" -d"${WRK_S}s" --latency "$K/ui/js/app.js" >"$T/wrk.$1.asset" 2>&1
	wait "$a"
}
wrk_read() {	# file -> "req/s p99ms p50ms non2xx"
	local r p m n
	r=$(awk '/^Requests\/sec/ { print $2 }' "$1")
	p=$(awk '$1 == "99%" { print $2 }' "$1")
	m=$(awk '$1 == "50%" { print $2 }' "$1")
	n=$(awk '/Non-2xx/ { print $NF }' "$1")
	[ -n "$r" ] && [ -n "$p" ] || return 1
	echo "$r $(ms "$p") $(ms "$m") ${n:-0}"
}
wrk_both idle
read -r is_r is_p is_m is_n <<<"$(wrk_read "$T/wrk.idle.status")" || die "wrk idle /v1/status: $(tail -n 3 "$T/wrk.idle.status")"
read -r ia_r ia_p ia_m ia_n <<<"$(wrk_read "$T/wrk.idle.asset")" || die "wrk idle asset: $(tail -n 3 "$T/wrk.idle.asset")"

# PAR blank cards, PAR holders; the issuances start together (the CLI's 202),
# each followed by `cardmgr --wait op show` (GET ...?wait=, the kiosk's way).
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
	json "$T/issue.$1.json" 'j["operation"]' 2>/dev/null
}
follow() {	# op -> $T/end.OP: "TIME STATE" when the station says it ended
	( cm officer --json --wait op show "$1" >"$T/op.$1.json" 2>/dev/null
	  t=$(now)
	  echo "$t $(json "$T/op.$1.json" 'j["state"]' 2>/dev/null)" >"$T/end.$1.tmp"
	  mv "$T/end.$1.tmp" "$T/end.$1" ) &
}
for ((r = 0; r < PAR; r++)); do
	cm officer holders add --id "U$r" --name "UI Bench $r" --email "u$r@example.com" >/dev/null ||
	    die "holder add U$r"
	rm -f "$T/card$((6100 + r)).state"
	vcard_insert "$r" "$T/card$((6100 + r)).state" --create --serial $((6100 + r)) \
	    --latency-ms "$LAT" --keygen-ms "$KG" >/dev/null || die "card $((6100 + r)) did not come up"
done
sleep 1.5	# the reader watcher has seen them all
t0=$(now)
pids=()
for ((r = 0; r < PAR; r++)); do issue "$r" "U$r" >"$T/op.r$r" & pids+=($!); done
wait "${pids[@]}"
ops=()
for ((r = 0; r < PAR; r++)); do
	o=$(cat "$T/op.r$r")
	[ -n "$o" ] || die "issue on reader $r refused: $(cat "$T/issue.$r.json" "$T/issue.$r.err")"
	ops+=("$o")
	follow "$o"
done
tw0=$(now)
wrk_both busy
tw1=$(now)
for o in "${ops[@]}"; do
	for ((k = 0; k < 1200; k++)); do [ -f "$T/end.$o" ] && break; sleep 0.1; done
	[ -f "$T/end.$o" ] || die "operation $o did not end in 2 minutes"
done
ndone=0 first=""
for o in "${ops[@]}"; do
	read -r te st <"$T/end.$o"
	[ "$st" = done ] && ndone=$((ndone + 1))
	[ -z "$first" ] || [ "$(calc "($te < $first)" 0)" = 1 ] && first=$te
done
[ "$ndone" = "$PAR" ] || die "$((PAR - ndone)) of $PAR issuances did not end done"
read -r bs_r bs_p bs_m bs_n <<<"$(wrk_read "$T/wrk.busy.status")" || die "wrk busy /v1/status: $(tail -n 3 "$T/wrk.busy.status")"
read -r ba_r ba_p ba_m ba_n <<<"$(wrk_read "$T/wrk.busy.asset")" || die "wrk busy asset: $(tail -n 3 "$T/wrk.busy.asset")"
echo "== (b) API while $PAR readers issue (profile $PROFILE, ${LAT} ms/APDU, keygen ${KG} ms, Argon2id at the product cost)"
echo "   vs the station idle; wrk -t1 -c$WRK_C ${WRK_S}s on each path, the two side by side; ratio = busy / idle"
row() { printf '%-28s %10s %10s %10s %7s %s\n' "$@"; }
row "" "req/s" "p50 ms" "p99 ms" "non2xx" "p99 ratio"
row "idle GET /v1/status" "$is_r" "$is_m" "$is_p" "$is_n" "1.00"
row "busy GET /v1/status" "$bs_r" "$bs_m" "$bs_p" "$bs_n" "$(calc "$bs_p / $is_p" 2)x"
row "idle GET /ui/js/app.js" "$ia_r" "$ia_m" "$ia_p" "$ia_n" "1.00"
row "busy GET /ui/js/app.js" "$ba_r" "$ba_m" "$ba_p" "$ba_n" "$(calc "$ba_p / $ia_p" 2)x"
echo "the issuances: all $ndone done; started (all 202) $(calc "$tw0 - $t0" 2) s after the first CLI call;" \
    "wrk ran from $(calc "$tw0 - $t0" 2) to $(calc "$tw1 - $t0" 2) s, the first issuance ended at $(calc "$first - $t0" 2) s" \
    "($( [ "$(calc "($first >= $tw1)" 0)" = 1 ] && echo "all $PAR issuing for the whole window" || echo "NOT all issuing for the whole window: raise BENCH_KEYGEN_MS"))"
echo "GET /v1/readers with the $PCSCENV_READERS readers empty (before the cards went in): $empty_rt s"
for ((r = 0; r < PAR; r++)); do vcard_remove "$r"; done
exit 0
