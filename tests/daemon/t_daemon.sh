#!/bin/bash
# cardmgrd end to end: three processes under their own users; the four
# operations through the `cardmgr` CLI against virtual cards, pcscd and the
# test CA; each effect checked through an independent path.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
opensc_private

check "status answers" cm auditor status
ps -eo user:20,comm | grep -E 'cardmgr' >"$T/ps"
check_grep "api runs as cardmgr-api" '^cardmgr-api +cardmgrd' "$T/ps"
check_grep "engine runs as cardmgr-engine" '^cardmgr-engine +cardmgrd' "$T/ps"
check_grep "keyd runs as cardmgr-keyd" '^cardmgr-keyd +cardmgrd' "$T/ps"
vcard_insert 0 "$T/card0.state" --create --serial 5001 >/dev/null
check "officer adds a holder" cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com
printf '246810\nanswer one\nanswer two\nanswer three\nanswer four\nanswer five\n' >"$T/s"
cm officer --secrets-fd 3 issue --reader "$R" --holder E100 --profile employee --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.out" 2>&1
echo "# rc=$? $(cat "$T/issue.out")"
for i in $(seq 1 120); do
	st=$(cm officer --json op show 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	[ "$st" != running ] && break
	sleep 0.5
done
echo "# state=$st"
cm officer op show 1 | tail -5
cat "$T/cardmgrd.log" | tail -20
done_testing
