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
for k in a b c d e f g h; do attrs+=(--attr "$k=$(printf '%0120d' 7)"); done
ok=0 full=0
for ((i = 0; i < 3000; i++)); do
	if cm officer --json holders add --id "H$i" --name "Holder number $i" \
	    --email "h$i@example.test" "${attrs[@]}" >"$T/add.json" 2>"$T/add.err"; then
		ok=$((ok + 1))
		continue
	fi
	grep -q '507\|inventory' "$T/add.err" && full=1
	break
done
check "the map filled before 3000 holders" test "$i" -lt 3000
check_eq "the refusal is 507 (inventory full), said plainly" 1 "$full"
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
