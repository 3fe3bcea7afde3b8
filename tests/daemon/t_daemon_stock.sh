#!/bin/bash
# Blank stock, end to end on the real daemon, virtual cards and the test CA:
# a badge officer receives a range of serials; levels per model and location
# against the configured thresholds (below flagged); issuance refuses a card
# that is not in stock, or in stock at another location, and changes nothing
# (the inventory, the stock, and the card itself as yubico-piv-tool reads
# it); issuing from stock takes the card out (level down, history receipt ->
# issued in one card's history); a retirement for reuse wipes the card back
# into stock; disposal takes a card out for good with its reason; a range
# that overlaps the stock or is malformed changes nothing; the roles of the
# floor table; the levels are the same after a daemon restart (LMDB); the
# stock group of cardmgrd.conf checked by cardmgrd -n with file:line.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"

R0=$(reader_name 0) R1=$(reader_name 1)
levels() {	# the levels report as "model/location=cards:threshold:status ..."
	cm auditor --json report stock >"$T/lv.json" 2>/dev/null
	json "$T/lv.json" '" ".join("%s/%s=%s:%s:%s" % tuple("-" if c is None else c for c in r) for r in j["rows"])'
}
in_stock() {	# the serials in stock, sorted, space separated
	cm auditor --json stock list >"$T/sl.json" 2>/dev/null
	json "$T/sl.json" '" ".join(sorted(r[0] for r in j["rows"]))'
}
history() { field "$1" '" ".join(h["event"] for h in j["history"])'; }

# Thresholds: 3 at the desk, 1 in the annex (none there yet).
sed -i 's/^stock = .*/stock = { location = "desk"; thresholds = ( { model = "piv-yubico"; location = "desk"; min = 3; }, { model = "piv-yubico"; location = "annex"; min = 1; } ); };/' "$T/etc/cardmgrd.conf"
daemon_stop
daemon_start || { echo "not ok 1 - daemon with thresholds"; exit 1; }
check "cardmgrd -n accepts the stock group" "$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf"
bad_conf() {	# LINE: cardmgrd -n on the conf with its stock line replaced; stderr in $T/bad.err
	sed "s/^stock = .*/$1/" "$T/etc/cardmgrd.conf" >"$T/bad.conf"
	chmod 644 "$T/bad.conf"
	! "$BIN/cardmgrd" -n -c "$T/bad.conf" 2>"$T/bad.err"
}
check "a threshold twice for one model and location is refused" \
    bad_conf 'stock = { thresholds = ( { model = "m"; location = "l"; min = 1; }, { model = "m"; location = "l"; min = 2; } ); };'
check_grep "with file:line" 'bad.conf:[0-9]*: stock: two thresholds' "$T/bad.err"
check "an unknown stock setting is refused" bad_conf 'stock = { reorder = 3; };'
check_grep "naming the settings" 'stock: unknown setting' "$T/bad.err"
check "a location with a blank is refused" bad_conf 'stock = { location = "main desk"; };'
check_grep "saying what a location is" 'stock: location: 0..63' "$T/bad.err"
check "require must be a boolean" bad_conf 'stock = { require = 1; };'
check_grep "saying so" 'stock: require must be true or false' "$T/bad.err"
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null

# --- receipt of a range
cm officer --json stock receive --model piv-yubico --location desk --serials 6101-6104 \
    --batch B1 >"$T/rcv.json"
check_eq "the badge officer receives 6101-6104" "0 4 B1" "$? $(json "$T/rcv.json" 'j["received"], j["batch"]' | tr -d '(),')"
check_eq "all 4 in stock" "6101 6102 6103 6104" "$(in_stock)"
check_eq "levels: 4 at the desk (threshold 3: ok), 0 in the annex (threshold 1: low)" \
    "piv-yubico/annex=0:1:low piv-yubico/desk=4:3:ok" "$(levels)"
check_eq "card 6102 is blank in the inventory" blank "$(card_state 6102)"
check_eq "its history: received" received "$(history 6102)"
check_grep "with batch and location" '"detail": *"batch B1, model piv-yubico, location desk"' "$T/c.json"

# --- refusals change nothing
cm helpdesk stock receive --model piv-yubico --location desk --serials 6110 2>"$T/err"
check_eq "the help desk may not receive (exit 4)" 4 $?
cm officer stock receive --model piv-yubico --location desk --serials 6099-6101 2>"$T/err"
check_eq "a range overlapping the stock is refused (exit 1: 409)" 1 $?
check_grep "naming the card" "card 6101 is already in stock" "$T/err"
cm officer stock receive --model piv-yubico --location desk --serials 6109-6107 2>"$T/err"
check_eq "a range A-B with B < A is refused (exit 1: 400)" 1 $?
check_grep "saying why" "A <= B" "$T/err"
check_fails "1001 cards in one receipt are refused" \
    cm officer stock receive --model piv-yubico --location desk --serials 7000-8000
check_fails "a list with a blank is refused" \
    cm officer stock receive --model piv-yubico --location desk --serials "6107, 6108"
check_fails "serials and a reader at once are a usage error" \
    cm officer stock receive --model piv-yubico --location desk --serials 6107 --reader "$R0"
check_eq "none of those changed the stock" "6101 6102 6103 6104" "$(in_stock)"
check_eq "6099 and 6100 (new, before 6101 in the refused range) are unknown" "none none" \
    "$(card_state 6099) $(card_state 6100)"

# --- a card not in stock: issuance refused, nothing changed
vcard_insert_raw 0 "$T/c0.state" --create --serial 6201 >/dev/null
sleep 1	# the reader watcher identifies every inserted card first
check_eq "issuing card 6201 (never received) fails" failed "$(wait_op "$(issue_temp "$R0" 6201 461937)")"
check_grep "with the code not_in_stock" 'not_in_stock: card 6201 is not in the station' "$T/op.json"
check_eq "the inventory does not know 6201" none "$(card_state 6201)"
check "the card is untouched: factory key, no certificate (yubico-piv-tool)" card_blank "$R0"
check_eq "the holder has no card" 0 "$(cm auditor --json cards list --holder E100 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cards"]))')"

# --- receive the card in the reader (scanned), then move it to the annex
cm officer --json stock receive --model piv-yubico --location desk --reader "$R0" >"$T/rcv2.json"
check_eq "the card in the reader is received" 1 "$(json "$T/rcv2.json" 'j["received"]')"
check_eq "under its serial as issuance sees it" "6101 6102 6103 6104 6201" "$(in_stock)"
check "the badge officer moves 6201 to the annex" cm officer stock move 6201 --location annex --note "for the night desk"
check_eq "levels follow" "piv-yubico/annex=1:1:ok piv-yubico/desk=4:3:ok" "$(levels)"
check_grep "the move is in its history" '"detail": *"from desk to annex: for the night desk"' <(cm auditor --json cards show 6201)
check_eq "issuing 6201 here (a desk station) fails" failed "$(wait_op "$(issue_temp "$R0" 6201 461937)")"
check_grep "it is in stock elsewhere" 'in stock at annex, not at this station' "$T/op.json"
check "the card is still untouched" card_blank "$R0"
check_eq "and still in the annex's stock" "piv-yubico/annex=1:1:ok piv-yubico/desk=4:3:ok" "$(levels)"
vcard_remove 0

# --- issuing from stock
vcard_insert_raw 1 "$T/c1.state" --create --serial 6101 >/dev/null
sleep 1
check_eq "card 6101 (in stock at the desk) is issued" done "$(wait_op "$(issue_temp "$R1" 6101 461937)")"
check_eq "it left the stock" "6102 6103 6104 6201" "$(in_stock)"
check_eq "the desk's level is 3: at the threshold" "piv-yubico/annex=1:1:ok piv-yubico/desk=3:3:ok" "$(levels)"
check_eq "one history from receipt to issuance" "received from_stock issuing" \
    "$(history 6101 | cut -d' ' -f1-3)"
check_eq "the issued card is active" active "$(card_state 6101)"
check "the card holds a 9A certificate (yubico-piv-tool)" \
    sh -c "yubico-piv-tool -r '$R1' -a read-certificate -s 9a | openssl x509 -noout"

# --- retired for reuse: wiped and back in stock
check "the badge officer retires 6101 with the card (temporary: reuse)" \
    cm officer retire 6101 --reason retire --reader "$R1"
check "the card is wiped to factory state" card_blank "$R1"
check_eq "and back in stock" "6101 6102 6103 6104 6201" "$(in_stock)"
check_grep "its history says so" '"event": *"to_stock"' <(cm auditor --json cards show 6101)
check_eq "issued again from stock" done "$(wait_op "$(issue_temp "$R1" 6101 461937)")"
check_eq "out of stock again" "6102 6103 6104 6201" "$(in_stock)"
vcard_remove 1

# --- disposal
cm officer stock dispose 6102 --reason "cracked in transit" 2>"$T/err"
check_eq "a badge officer may not dispose (exit 4)" 4 $?
check "the security officer disposes of 6102" cm security stock dispose 6102 --reason "cracked in transit"
check_eq "6102 left the stock" "6103 6104 6201" "$(in_stock)"
check_eq "its record is disposed (the lifecycle's dispose)" disposed "$(card_state 6102)"
cm auditor --json cards list --state disposed >"$T/disp.json"
check_eq "cards list --state disposed finds it, and only it" 6102 \
    "$(json "$T/disp.json" '" ".join(c["serial"] for c in j["cards"])')"
check_eq "its history: received, disposed" "received disposed" "$(history 6102)"
check_grep "with the reason" '"detail": *"cracked in transit"' "$T/c.json"
check_fails "disposing of it again: not in stock" cm security stock dispose 6102 --reason again
check_eq "the desk is below its threshold: low" "piv-yubico/annex=1:1:ok piv-yubico/desk=2:3:low" "$(levels)"
check_eq "the report counts 1 pair low" 1 "$(json "$T/lv.json" 'j["low"]')"
cm auditor --json report inventory >"$T/inv.json"
check_eq "the inventory report's stock member: 3 cards, 1 low" "3 1" "$(json "$T/inv.json" 'j["stock"]["cards"], j["stock"]["low"]' | tr -d '(),')"
cm auditor stock levels --format csv >"$T/lv.csv"
check_eq "CSV from the CLI" '"model","location","cards","threshold","status"|"piv-yubico","annex","1","1","ok"|"piv-yubico","desk","2","3","low"' \
    "$(tr -d '\r' <"$T/lv.csv" | paste -sd'|')"

# --- the same after a restart (LMDB)
before=$(levels)
daemon_stop
daemon_start
check_eq "levels after a restart" "$before" "$(levels)"
check_eq "and the cards in stock" "6103 6104 6201" "$(in_stock)"

done_testing
