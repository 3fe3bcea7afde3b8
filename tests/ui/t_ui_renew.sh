#!/bin/bash
# The kiosk UI end to end, renewal on presentation (issue 9): an employee
# card issued through the CLI, then its profile bumped to version 2 with 9a
# changed (since_version = 2); the real cardmgrd serving kiosk-ui/, Debian's
# chromium driven by playwright-core (tests/ui/renew.mjs). Checked with stock
# clients: the tries and the 9a certificate on the card (yubico-piv-tool), the
# old certificate on the test CA's CRL as superseded, the requirements list
# empty afterwards. Screenshots: test-logs/ui-renew/.
. "$TOP/tests/lib/tap.sh"
NODE_DIR=$TOP/tests/ui/node_modules
if [ ! -d "$NODE_DIR/playwright-core" ] || [ ! -d "$TOP/kiosk-ui/node_modules/libsodium-wrappers" ] ||
    [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null; then
	echo "# skipped: make ui-deps (npm ci) and chromium (make deps) first"
	exit 77
fi
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
opensc_private
K=http://127.0.0.1:8410
ART=$(dirname "$BIN")/test-logs/ui-renew
rm -rf "$ART"
mkdir -p "$ART"
PIN=572816
sn9a() { ypt -a read-certificate -s 9a 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f; }
ypt_tries() {
	local i out
	for ((i = 0; i < 10; i++)); do
		out=$(ypt -a status 2>/dev/null) &&
		    sed -n 's/^PIN tries left:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$out" | grep . && return 0
		sleep 0.3
	done
	echo "?"
}

cm officer holders add --id E400 --name "Kio Renew" --email kio@example.com >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 6201 >/dev/null
printf '%s\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' "$PIN" >"$T/s"
cm officer --json --secrets-fd 3 issue --reader "$R" --holder E400 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
check_eq "an employee card is issued" done "$(wait_op "$(json "$T/issue.json" 'j["operation"]')")"
OLD=$(sn9a)
daemon_stop
sed -i 's/^version = 1;/version = 2;/; s/cert_profile = "piv-auth"; cert_days = 1095;/& since_version = 2;/' \
    "$T/etc/profiles/employee.conf"
check_grep "the profile changed 9a in version 2" 'piv-auth"; cert_days = 1095; since_version = 2;' "$T/etc/profiles/employee.conf"
check "the daemon starts with it" daemon_start
needs() { cm auditor --json cards requirements 6201 | python3 -c 'import json,sys; print(" ".join(r["slot"] for r in json.load(sys.stdin)["requirements"]))'; }
check_eq "the station lists 9a for the card" 9a "$(needs)"

ui_do() {
	case $1 in
	tries) ypt_tries ;;
	needs) needs ;;
	serial) if [ "$(sn9a)" = "$OLD" ]; then echo same; else echo new; fi ;;
	*) echo "unknown" ;;
	esac
}
coproc UI { cd "$TOP/tests/ui" && UI_URL=$K UI_ARTIFACTS=$ART UI_PROFILE=$T/chromium UI_PIN=$PIN \
    exec node renew.mjs 2>"$T/node.err"; }
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
check "screenshots are kept in $ART" test "$(ls "$ART"/*.png 2>/dev/null | wc -l)" -ge 4
check "the revocation reaches the CA" wait_settled 6201
check "the CRL lists the old 9a certificate as superseded" crl_has Superseded "$OLD"
check "and not the new one" crl_has absent "$(sn9a)"
check_eq "the card needs nothing now" "" "$(needs)"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the audit log has the renewal done at the kiosk" '"card_renew.ok"' "$T/audit.json"
check_grep "and the refused one" '"card_renew.refused"' "$T/audit.json"
done_testing
