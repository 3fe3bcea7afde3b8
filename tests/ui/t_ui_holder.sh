#!/bin/bash
# The kiosk UI end to end, journey 3 (a holder changes their own PIN): the
# real cardmgrd serving the repo's kiosk-ui/, a virtual card on pcscd, the
# test CA; Debian's chromium driven by playwright-core (tests/ui/holder.mjs).
# Every effect the page shows is checked on the card with stock clients
# (yubico-piv-tool, pkcs11-tool over OpenSC). Screenshots: test-logs/ui-holder/.
# Also: raw HTTP bad input on the static files of the real daemon.
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
ART=$(dirname "$BIN")/test-logs/ui-holder
rm -rf "$ART"
mkdir -p "$ART"

# ypt_tries: the card's own count (VERIFY without a PIN spends none); once
# more after a moment if the reader is held by the daemon's reader list.
ypt_tries() {
	local i out
	for ((i = 0; i < 10; i++)); do
		out=$(ypt -a status 2>/dev/null) &&
		    sed -n 's/^PIN tries left:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$out" | grep . && return 0
		sleep 0.3
	done
	echo "?"
}
verify_pin() {	# PIN: both stock clients log in with it
	local i
	for ((i = 0; i < 10; i++)); do
		ypt -a verify-pin -P "$1" >/dev/null 2>&1 && break
		sleep 0.3
	done
	[ "$i" -lt 10 ] && p11tool --login --pin "$1" --list-objects >/dev/null 2>&1
}

# --- the card: issued to a holder through the CLI (an officer's uid)
check "the daemon serves the kiosk UI from the repo (ui_dir)" grep -q "^ui_dir = \"$TOP/kiosk-ui\";" "$T/etc/cardmgrd.conf"
vcard_insert 0 "$T/card0.state" --create --serial 5101 >/dev/null
check "officer adds a holder" cm officer holders add --id E100 --name "Jane Doe"
op=$(issue_temp "$R" 5101 461937)
check_eq "a temporary card is issued to her" done "$(wait_op "$op")"
check_eq "the card's PIN is 461937 with 3 tries" 3 "$(ypt_tries)"

# --- raw HTTP on the static files of the real daemon
http() { st=$(curl -sS --path-as-is -o "$T/body" -w '%{http_code}' "$@" 2>/dev/null); }
http "$K/ui/../etc/cardmgrd.conf";		check_eq "traversal: 400" 400 "$st"
http "$K/ui/%2e%2e/%2e%2e/etc/passwd";		check_eq "encoded traversal: 400" 400 "$st"
http "$K/ui/node_modules/.cardmgr-lock";	check_eq "a dotfile: 400" 400 "$st"
http "$K/ui/$(printf 'a%.0s' $(seq 3000)).js";	check_eq "an oversized path: 414" 414 "$st"
http "$K/ui/README.md";				check_eq "a file type not served: 404" 404 "$st"
http "$K/";					check_eq "and the daemon still serves the page" 200 "$st"
check_grep "the page names its module" 'src="/ui/js/app.js"' "$T/body"
http "$K/v1/readers"
check_grep "the API answers beside it, the card with its profile" '"profile": *"temporary"' "$T/body"

# --- the browser
ui_do() {	# one action asked by holder.mjs; one line back
	case $1 in
	tries) ypt_tries ;;
	pull) vcard_remove 0 && echo done || echo failed ;;
	insert) vcard_insert 0 "$T/card0.state" >/dev/null && echo done || echo failed ;;
	verify) verify_pin "$2" && echo ok || echo failed ;;
	*) echo "unknown" ;;
	esac
}
coproc UI { cd "$TOP/tests/ui" && UI_URL=$K UI_ARTIFACTS=$ART UI_PROFILE=$T/chromium UI_PIN=461937 \
    exec node holder.mjs 2>"$T/node.err"; }
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
rc=$?
check_eq "the browser script ends cleanly" 0 "$rc"
[ -s "$T/node.err" ] && sed 's/^/# node: /' "$T/node.err"
check "screenshots are kept in $ART" test "$(ls "$ART"/*.png 2>/dev/null | wc -l)" -ge 7
check_eq "the card's PIN is blocked after the journey (yubico-piv-tool)" 0 "$(ypt_tries)"
cm auditor --json audit show --limit 1000 >"$T/audit.json"
check_grep "the audit log has the PIN change done at the kiosk" '"pin_change.ok"' "$T/audit.json"
check_grep "and the refused ones" '"pin_change.refused"' "$T/audit.json"
http "$K/"
check_eq "the daemon still serves at the end" 200 "$st"
done_testing
