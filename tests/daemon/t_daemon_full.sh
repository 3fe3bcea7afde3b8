#!/bin/bash
# A full inventory through the whole daemon: with a 1 MB LMDB map, holders are
# added until the engine answers 507. The refused write changes nothing (the
# holders the API acknowledged are exactly those the inventory lists, before
# and after a restart), and the daemon keeps serving reads. Unit tests cover
# INV_ERR_FULL in the library; this is the same path through api, engine
# and CLI.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/daemon/lib.sh"

daemon_stop
sed -i "s|^state_dir = .*|state_dir = \"$T/inv-small\";|" "$T/etc/cardmgrd.conf"
echo 'map_size_mb = 1;' >>"$T/etc/cardmgrd.conf"
mkdir -p "$T/inv-small"
chown cardmgr-engine: "$T/inv-small"
chmod 700 "$T/inv-small"
check "the daemon starts on a 1 MB inventory" daemon_start

attrs=()
for k in a b c d e f g h i j k l m n o p; do attrs+=(--attr "$k=$(printf '%0126d' 7)"); done
# The bulk of the filling through one curl process (one request each, the
# officer's uid on the socket), then the CLI for the request that fails.
python3 - "$T/fill.curl" "$T/run/api.sock" <<'PY'
import json, sys
attrs = ["%s=%s" % (k, "7".rjust(126, "0")) for k in "abcdefghijklmnop"]
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        if i:
            f.write("next\n")
        body = json.dumps({"id": "H%d" % i, "name": "Holder number %d" % i,
                           "email": "h%d@example.test" % i, "attributes": attrs})
        f.write('unix-socket = "%s"\n' % sys.argv[2])
        f.write('url = "http://station/v1/holders"\n')
        f.write('header = "Content-Type: application/json"\n')
        f.write("data = %s\n" % json.dumps(body))
        f.write('write-out = "%{http_code}\\n"\n')
        f.write('output = "/dev/null"\n')
PY
chmod 644 "$T/fill.curl"
as_officer curl -s -K "$T/fill.curl" >"$T/fill.codes" 2>"$T/fill.err"
# Every 201 is a holder the station acknowledged; after the first 507 a few
# more may fit (LMDB reuses the pages the refused transactions freed).
ok=$(grep -c '^201$' "$T/fill.codes")
i=$(awk '$1 != 201 { print NR - 1; exit }' "$T/fill.codes")
first=$(awk '$1 != 201 { print $1; exit }' "$T/fill.codes")
i=${i:-3000}
check_eq "the first refusal of the bulk is 507 (inventory full)" 507 "$first"
cm officer --json holders add --id "Hcli" --name "Holder by the CLI" \
    --email "hcli@example.test" "${attrs[@]}" >"$T/add.json" 2>"$T/add.err"
full=0
grep -q '507\|inventory' "$T/add.err" && full=1
echo "# codes: $(sort "$T/fill.codes" | uniq -c | paste -sd ' ')"
check "the map filled before 3000 holders" test "$i" -lt 3000
check_eq "the CLI's add is refused 507 (inventory full), said plainly" 1 "$full"
check_grep "the CLI says why" 'full|MDB_MAP_FULL|space' "$T/add.err"
echo "# $ok holders fitted; refusal: $(head -c 200 "$T/add.err")"

count_holders() {	# the inventory's holders, paging through the list
	local after="" n=0 got
	while :; do
		cm auditor --json holders list --limit 1000 ${after:+--after "$after"} >"$T/hl.json" || return 1
		got=$(json "$T/hl.json" 'len(j["holders"])')
		n=$((n + got))
		[ "$got" -eq 1000 ] || break
		after=$(json "$T/hl.json" 'j["holders"][-1]["id"]')
	done
	echo "$n"
}
check "status still answers" cm auditor status
check_eq "every acknowledged holder is there, and no other" "$ok" "$(count_holders)"
check_fails "the holder that was refused is not there" cm auditor holders show "H$i"
check_fails "another write is refused the same way" cm officer holders add --id Hx --name "X Y" \
    "${attrs[@]}"
check "reads keep working: a holder by id" cm auditor holders show H0

daemon_stop
check "the daemon starts again on the full inventory" daemon_start
check_eq "after the restart, the same holders" "$ok" "$(count_holders)"
check_eq "the audit chain verifies" True \
    "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
done_testing
