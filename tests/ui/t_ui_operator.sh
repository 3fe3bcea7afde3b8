#!/bin/bash
# The kiosk UI end to end, journeys 1, 2 and 4 with an operator logged in at
# the kiosk with their own card (reader 1): issue with progress, help desk
# unblock with the station's questions, replacement of the damaged card with
# key recovery, a temporary card for the forgotten one and its return, retire
# of the lost card with the CA's revocation, the reports screen's charts, and
# the stock screen (levels with the threshold warning, receipt by range and by
# the card in a reader, checked with the CLI's stock list and report).
# tests/ui/operator.mjs drives Debian's chromium; the shell checks each effect
# on the card (yubico-piv-tool, pkcs11-tool), in the inventory (CLI over the
# UNIX socket), in the test CA's CRL, and the charts against the CLI's
# `cardmgr --json report` figures. Screenshots: test-logs/ui-operator/. Needs
# operator card login in the daemon (POST /v1/login, `cardmgr operator add`):
# skipped (77) until it is there.
. "$TOP/tests/lib/tap.sh"
if [ ! -d "$TOP/tests/ui/node_modules/playwright-core" ] ||
    [ ! -d "$TOP/kiosk-ui/node_modules/libsodium-wrappers" ] || [ ! -x /usr/bin/chromium ]; then
	echo "# skipped: make ui-deps (npm ci) and chromium (make deps) first"
	exit 77
fi
if ! grep -qa '/v1/login' "$BIN/cardmgrd" || ! "$BIN/cardmgr" operator 2>&1 | grep -q add; then
	echo "# skipped: this cardmgrd has no operator card login (POST /v1/login) yet"
	exit 77
fi
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
K=http://127.0.0.1:8410
R0=$(reader_name 0) R1=$(reader_name 1)
ART=$(dirname "$BIN")/test-logs/ui-operator
rm -rf "$ART"
mkdir -p "$ART"

tries() {	# reader -> the card's PIN tries left (VERIFY without a PIN)
	local i n
	for ((i = 0; i < 10; i++)); do
		n=$(yubico-piv-tool -r "$1" -a status 2>/dev/null |
		    sed -n 's/.*PIN tries left:[[:space:]]*\([0-9]*\).*/\1/p')
		[ -n "$n" ] && { echo "$n"; return; }
		sleep 0.3
	done
	echo "?"
}
verify_pin() {	# PIN: both stock clients log in with it on reader 0
	local i
	for ((i = 0; i < 10; i++)); do
		ypt -a verify-pin -P "$1" >/dev/null 2>&1 && break
		sleep 0.3
	done
	[ "$i" -lt 10 ] && p11tool --login --pin "$1" --list-objects >/dev/null 2>&1
}

# --- the operator's card: issued by the station, registered, daemon restarted
# A reorder threshold the desk is below (the stock screen flags it).
sed -i 's/^stock = .*/stock = { location = "desk"; thresholds = ( { model = "piv-yubico"; location = "desk"; min = 50; } ); };/' "$T/etc/cardmgrd.conf"
cm officer holders add --id OP1 --name "Olga Operator" >/dev/null
vcard_insert 1 "$T/card1.state" --create --serial 6001 >/dev/null
printf '461937\n' >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R1" --holder OP1 --profile temporary \
    3<"$T/s" >"$T/issue.json"
check_eq "the operator's card is issued by the station (reader 1)" done \
    "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
yubico-piv-tool -r "$R1" -a read-certificate -s 9a >"$T/op.crt" 2>/dev/null
check "root registers it: badge officer, help desk, security officer" "$BIN/cardmgr" operator add \
    --cert "$T/op.crt" --name "Olga Operator" --roles badge_officer,helpdesk,security_officer \
    --operators "$T/etc/operators.conf"
daemon_stop
check "the daemon starts with the new operator" daemon_start

ui_do() {	# one action asked by operator.mjs; one line back
	case $1 in
	tries) tries "$(reader_name "$2")" ;;
	insert-blank) vcard_insert 0 "$T/card$2.state" --create --serial "$2" >/dev/null && echo done || echo failed ;;
	pull) vcard_remove "$2" && echo done || echo failed ;;
	verify) verify_pin "$2" && echo ok || echo failed ;;
	block) for _ in 1 2 3; do ypt -a verify-pin -P 000000 >/dev/null 2>&1; done; tries "$R0" ;;
	card) cm auditor --json cards show "$2" >"$T/c.json" 2>/dev/null &&
	    json "$T/c.json" 'j["state"] + " " + str(len(j["certificates"]))' || echo none ;;
	state) card_state "$2" ;;
	opsteps) cm officer --json op show "$2" >"$T/o.json" 2>/dev/null &&
	    json "$T/o.json" '",".join(s["name"] for s in j["steps"])' || echo none ;;
	unrevoked) ca_unrevoked ;;
	crl) wait_settled "$3" && crl_has "$2" $(serials "$3") 2>/dev/null && echo ok || echo failed ;;
	figures) report_figures "$2" "$3" ;;
	stocklevels) cm auditor --json report stock >"$T/st.json" 2>/dev/null &&
	    json "$T/st.json" '" ".join("/".join(["\u2013" if x is None else str(x) for x in r[:4]] + ["below threshold" if r[4] == "low" else r[4]]) for r in j["rows"])' || echo none ;;
	instock) cm auditor --json stock list >"$T/sl.json" 2>/dev/null &&
	    json "$T/sl.json" '" ".join(sorted(r[0] for r in j["rows"] if r[3] == "'"$2"'"))' || echo none ;;
	insert-unstocked) vcard_insert_raw 0 "$T/card$2.state" --create --serial "$2" >/dev/null && echo done || echo failed ;;
	*) echo unknown ;;
	esac
}
report_figures() {	# OPDAYS EXPDAYS: the CLI's report figures, one JSON line
	cm auditor --json report inventory >"$T/r.inv" &&
	    cm auditor --json report operations --days "$1" >"$T/r.ops" &&
	    cm auditor --json report expiring --days "$2" >"$T/r.exp" || { echo '{}'; return; }
	python3 - "$T/r.inv" "$T/r.ops" "$T/r.exp" <<'PY'
import collections, json, sys
inv, ops, exp = (json.load(open(f)) for f in sys.argv[1:])
def cols(r): return {c: i for i, c in enumerate(r["columns"])}
out = {"state": {k: v for k, v in inv["by_state"].items() if v}, "profile": collections.Counter(),
       "operations": collections.Counter(), "expiring": collections.Counter()}
c = cols(inv)
for r in inv["rows"]: out["profile"][r[c["profile"]]] += r[c["cards"]]
c = cols(ops)
for r in ops["rows"]: out["operations"][r[c["day"]]] += r[c["total"]]
c = cols(exp)
for r in exp["rows"]:
    if r[c["kind"]] == "certificate": out["expiring"][r[c["expires"]][:10]] += 1
print(json.dumps({k: {x: y for x, y in v.items() if y} for k, v in out.items()}, sort_keys=True, separators=(",", ":")))
PY
}
coproc UI { cd "$TOP/tests/ui" && UI_URL=$K UI_ARTIFACTS=$ART UI_PROFILE=$T/chromium \
    UI_OP_READER=$R1 UI_OP_PIN=461937 UI_READER=$R0 exec node operator.mjs 2>"$T/node.err"; }
ui_pid=$UI_PID
while IFS= read -r line <&"${UI[0]}"; do
	case $line in
	'@@ok '*) ok "${line#@@ok }" ;;
	'@@notok '*) not_ok "${line#@@notok }" ;;
	'@@do '*) ui_do ${line#@@do } >&"${UI[1]}" ;;
	*) echo "$line" ;;
	esac
done
wait "$ui_pid"
check_eq "the browser script ends cleanly" 0 "$?"
[ -s "$T/node.err" ] && sed 's/^/# node: /' "$T/node.err"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
for ev in login.ok issue retire; do
	check_grep "the audit log has $ev by the card operator" "\"$ev" "$T/audit.json"
done
check_eq "the daemon still serves the page" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$K/")"
done_testing
