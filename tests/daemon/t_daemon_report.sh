#!/bin/bash
# Reports and expiry notices end to end: three temporary cards issued through
# the daemon, then every report compared with what the inventory lists
# (`cardmgr cards list`), the CSV read back with python's csv module (a
# holder named "=cmd()" must stay text), and the expiry notices mailed to a
# real SMTP server this test starts (tests/daemon/smtpsink.py), asserting
# what that server received: recipients, subject, card serial, no secret;
# nothing twice across reruns, restarts and a new day; 4xx retried, 5xx
# reported and not retried. Time travels with CARDMGRD_CLOCK_OFFSET (test
# builds), never with sleeps.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
if ! grep -qa CARDMGRD_CLOCK_OFFSET "$BIN/cardmgrd"; then
	echo "# release build: no clock offset"; exit 77
fi
DAY=86400
MAIL=$T/mail
mkdir -p "$MAIL"
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# --- the SMTP server, and the notice settings
python3 "$TOP/tests/daemon/smtpsink.py" 2525 "$MAIL" >"$T/smtp.log" 2>&1 &
echo $! >"$T/pids/smtp"
for ((i = 0; i < 100; i++)); do [ -f "$MAIL/ready" ] && break; sleep 0.05; done
check "the SMTP server is up" test -f "$MAIL/ready"
daemon_stop
cat >>"$T/etc/cardmgrd.conf" <<CONF
smtp_url = "smtp://127.0.0.1:2525";
notice_from = "badges@station.test";
notice_days = [ 1, 30, 7 ];
notice_manager = true;
notice_retry_seconds = 1;
CONF
check "cardmgrd -n takes the notice settings" "$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf"
cp "$T/etc/cardmgrd.conf" "$T/good.conf"
for bad in 'notice_days = [ 7, 7 ];' 'notice_days = [ 0 ];' 'notice_days = [ 400 ];' \
    'notice_retry_seconds = 0;' 'smtp_url = "smtp://user:pw@127.0.0.1:2525";' \
    'smtp_url = "http://127.0.0.1";' 'notice_from = "a b@c";'; do
	cp "$T/good.conf" "$T/etc/cardmgrd.conf"
	echo "$bad" >>"$T/etc/cardmgrd.conf"
	"$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf" >"$T/n.log" 2>&1
	check_eq "refused with file:line: $bad" 1 \
	    "$(grep -c 'cardmgrd.conf:[0-9]*:' "$T/n.log")"
done
cp "$T/good.conf" "$T/etc/cardmgrd.conf"
check "the daemon starts with notices on" daemon_start

# --- three temporary cards (expire in 30 days)
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com \
    --manager-email boss@example.com >/dev/null
cm officer holders add --id E200 --name "=cmd()" --email eq@example.com >/dev/null
cm officer holders add --id E300 --name "Rex Reject" --email reject@example.com >/dev/null
check_grep "the holder keeps the manager's address" '"manager_email": *"boss@example.com"' \
    <(cm auditor --json holders show E100)
PIN=482916
issue() {	# reader holder -> the operation's end state
	local i
	printf '%s\n' "$PIN" >"$T/s.pin"
	for ((i = 0; i < 20; i++)); do
		cm officer --json --secrets-fd 3 issue --reader "$1" --holder "$2" \
		    --profile temporary 3<"$T/s.pin" >"$T/it.json" 2>"$T/it.err"
		grep -q reader_busy "$T/it.err" || break
		sleep 0.1
	done
	wait_op "$(json "$T/it.json" 'j["operation"]')"
}
n=0
for h in E100 E200 E300; do
	vcard_insert $n "$T/c$n.state" --create --serial 600$((n + 1)) >/dev/null
	check_eq "card 600$((n + 1)) issued to $h" done "$(issue "$(reader_name $n)" $h)"
	n=$((n + 1))
done

# --- reports against the inventory's own listing
cm auditor --json cards list >"$T/cards.json"
cm auditor --json report inventory >"$T/inv.json"
check_eq "inventory report: cards per profile and state = the card list" \
    "$(python3 -c 'import json,sys,collections
c=collections.Counter((x["profile"],x["state"]) for x in json.load(open(sys.argv[1]))["cards"])
print(sorted([p,s,n] for (p,s),n in c.items()))' "$T/cards.json")" \
    "$(json "$T/inv.json" 'sorted(j["rows"])')"
check_eq "inventory report: by state" 3 "$(json "$T/inv.json" 'j["by_state"]["active"]')"
cm auditor --json report expiring --days 31 >"$T/exp.json"
check_eq "expiring (31 days): the three cards, by serial" "6001 6002 6003" \
    "$(json "$T/exp.json" '" ".join(sorted(r[3] for r in j["rows"] if r[0]=="card"))')"
check_eq "and their expiry as the inventory has it" \
    "$(python3 -c 'import json,sys,datetime
print(sorted(datetime.datetime.fromtimestamp(x["expires"],datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for x in json.load(open(sys.argv[1]))["cards"]))' "$T/cards.json")" \
    "$(json "$T/exp.json" 'sorted(r[1] for r in j["rows"] if r[0]=="card")')"
check_eq "no certificate within 31 days (the test CA gives 365)" 0 \
    "$(json "$T/exp.json" 'sum(r[0]=="certificate" for r in j["rows"])')"
ncert=0
for s in 6001 6002 6003; do
	ncert=$((ncert + $(cm auditor --json cards show $s | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')))
done
check_eq "within 366 days: every certificate of the three cards" "$ncert" \
    "$(cm auditor --json report expiring --days 366 | python3 -c 'import json,sys; print(sum(r[0]=="certificate" for r in json.load(sys.stdin)["rows"]))')"
cm auditor --json report operations --days 1 >"$T/ops.json"
check_eq "operations report: today, the officer, 3 issuances, 3 done" \
    "Olivia Officer issue 3 3" "$(json "$T/ops.json" '" ".join(str(x) for x in j["rows"][0][1:5])')"
check_eq "operations report: one row" 1 "$(json "$T/ops.json" 'len(j["rows"])')"
check_eq "pending report: no CA work left" 0 \
    "$(cm auditor --json report pending | python3 -c 'import json,sys; print(sum(r[0]=="ca" for r in json.load(sys.stdin)["rows"]))')"
check_fails "a badge officer may not read reports" cm officer report inventory
check_fails "nor a holder" cm nobody report inventory
check_grep "the table names its columns" '^kind +expires +days_left' \
    <(cm auditor report expiring --days 31)

# --- CSV: parses, header = columns, formula neutralised; the API's bytes too
cm auditor report expiring --days 31 --format csv >"$T/exp.csv"
check_eq "CSV parses with python's csv module: header and 3 rows" "10 3" \
    "$(python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1],newline=""))); print(len(r[0]), len(r)-1)' "$T/exp.csv")"
check_eq "CSV header = the JSON columns" "$(json "$T/exp.json" '",".join(j["columns"])')" \
    "$(python3 -c 'import csv,sys; print(",".join(next(csv.reader(open(sys.argv[1],newline="")))))' "$T/exp.csv")"
check_eq "the holder named =cmd() comes out as text: '=cmd()" "'=cmd()" \
    "$(python3 -c 'import csv,sys; print([r[7] for r in csv.reader(open(sys.argv[1],newline="")) if r[6]=="E200"][0])' "$T/exp.csv")"
check_eq "no cell starts with = + - @" 0 \
    "$(python3 -c 'import csv,sys; print(sum(c[:1] in "=+-@" and c!="" for r in csv.reader(open(sys.argv[1],newline="")) for c in r))' "$T/exp.csv")"
U="http://localhost/v1/reports/expiring?days=31&format=csv"
check_grep "the API answers text/csv" '^text/csv' <(as_auditor curl -s -o /dev/null \
    -w '%{content_type}' --unix-socket "$T/run/api.sock" "$U")
as_auditor curl -s --unix-socket "$T/run/api.sock" "$U" >"$T/api.csv"
check "with the same bytes as the CLI" cmp "$T/api.csv" "$T/exp.csv"

# --- notices: today the cards have 30 days left
cm security --json notices run >"$T/run1.json"
check_eq "the job queues one notice per card (30 days)" 3 "$(json "$T/run1.json" 'j["queued"]')"
check_eq "two are sent" 2 "$(json "$T/run1.json" 'j["sent"]')"
check_eq "one is refused by the server (550) and failed" 1 "$(json "$T/run1.json" 'j["failed"]')"
check_eq "the server received exactly 2 messages" 2 "$(nlines "$MAIL/received.jsonl")"
python3 - "$MAIL/received.jsonl" >"$T/mail1" <<'EOF'
import json, sys, email
for line in open(sys.argv[1]):
    m = json.loads(line)
    msg = email.message_from_string(m["data"])
    print(" ".join(sorted(m["to"])), "|", msg["From"], "|", msg["Subject"], "|", msg["Cc"])
EOF
check_grep "Jane (and her manager, in Cc) got card 6001's notice" \
    '^boss@example.com jane@example.com \| badges@station.test \| Your smart card 6001 expires in 30 days \| boss@example.com$' "$T/mail1"
check_grep "=cmd() got card 6002's" '^eq@example.com \| badges@station.test \| Your smart card 6002 expires in 30 days \| None$' "$T/mail1"
check_grep "the body names the card serial" 'on your smart card 6001 expires on' "$MAIL/received.jsonl"
for secret in "$PIN" "$CAENV_TOKEN_PIN" 123456 010203040506070801020304050607080102030405060708; do
	check_fails "no secret ($secret) in any mail" grep -qF -- "$secret" "$MAIL/attempts.jsonl"
done
cm auditor --json report pending >"$T/pend.json"
check_eq "the pending report lists the refused notice as failed, with the 550" "failed server refused (550)" \
    "$(json "$T/pend.json" '" ".join(r[3]+" "+r[6] for r in j["rows"] if r[0]=="notice")')"
check_eq "notice counts: 0 pending, 2 sent, 1 failed" "0 2 1" \
    "$(json "$T/pend.json" '"%d %d %d" % (j["notices"]["pending"], j["notices"]["sent"], j["notices"]["failed"])')"
check_fails "an auditor may not send notices" cm auditor notices run

att=$(nlines "$MAIL/attempts.jsonl")
cm security --json notices run >"$T/run2.json"
check_eq "a second run queues nothing and sends nothing" "0 0 0" \
    "$(json "$T/run2.json" '"%d %d %d" % (j["queued"], j["sent"], j["failed"])')"
check_eq "and the server saw no new attempt (the 550 is not retried)" "$att" "$(nlines "$MAIL/attempts.jsonl")"
daemon_stop
check "the daemon starts again" daemon_start
cm security --json notices run >"$T/run3.json"
check_eq "after a restart, nothing is sent again" "$att 0" \
    "$(nlines "$MAIL/attempts.jsonl") $(json "$T/run3.json" 'j["queued"]+j["sent"]')"

# --- 23.5 days later: 6.5 days left (the 7-day notice); the server defers
echo defer >"$MAIL/mode"
daemon_stop
CARDMGRD_CLOCK_OFFSET=$((23 * DAY + DAY / 2)) daemon_start
for ((i = 0; i < 80; i++)); do
	[ "$(grep -c '7 days.*451\|451.*7 days' "$MAIL/attempts.jsonl")" -ge 3 ] && break
	sleep 0.25
done
check "the daily job ran at start and the server deferred the three 7-day notices" \
    test "$(grep -c 'expires in 7 days' "$MAIL/attempts.jsonl")" -ge 3
check_eq "nothing was received while deferred" 2 "$(nlines "$MAIL/received.jsonl")"
cm auditor --json report pending >"$T/pend2.json"
check_eq "the report shows them pending with the 451" 3 \
    "$(json "$T/pend2.json" 'sum(r[3]=="pending" and "451" in r[6] for r in j["rows"])')"
check_eq "the expiring report travelled too: 6 days left" "6 6 6" \
    "$(cm auditor --json report expiring --days 7 | python3 -c 'import json,sys; print(" ".join(str(r[2]) for r in json.load(sys.stdin)["rows"] if r[0]=="card"))')"
echo accept >"$MAIL/mode"
for ((i = 0; i < 80; i++)); do
	[ "$(nlines "$MAIL/received.jsonl")" -ge 4 ] && break
	sleep 0.25
done
check_eq "once the server accepts, the retries deliver the two 7-day notices" 4 "$(nlines "$MAIL/received.jsonl")"
check_eq "each exactly once" 2 "$(grep -c 'expires in 7 days' "$MAIL/received.jsonl")"
for ((i = 0; i < 40; i++)); do
	[ "$(grep -c 'reject@example.com.*expires in 7 days.*550' "$MAIL/attempts.jsonl")" -ge 1 ] && break
	sleep 0.25
done
check_eq "E300's 7-day notice: refused with 550 once" 1 \
    "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) for m in [json.loads(l)] if "reject@example.com" in m["to"] and "7 days" in m["data"] and m["answer"].startswith("550")))' "$MAIL/attempts.jsonl")"
att=$(nlines "$MAIL/attempts.jsonl")
cm security --json notices run >/dev/null
check_eq "and never tried again" "$att" "$(nlines "$MAIL/attempts.jsonl")"

# --- the next day: a new daily run after a restart sends nothing twice
daemon_stop
CARDMGRD_CLOCK_OFFSET=$((24 * DAY + DAY / 2)) daemon_start
cm security --json notices run >"$T/run4.json"
check_eq "a day later (5.5 days left, same threshold): nothing queued or sent" "0 0" \
    "$(json "$T/run4.json" '"%d %d" % (j["queued"], j["sent"])')"
check_eq "the server saw nothing new" "$att 4" "$(nlines "$MAIL/attempts.jsonl") $(nlines "$MAIL/received.jsonl")"
check_grep "the audit log has the sent notices" '"notice.ok"' <(cm auditor --json audit show --limit 1000)
check_grep "and the refused one" '"notice.failed"' <(cm auditor --json audit show --limit 1000)
check_eq "audit chain intact" True "$(cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])')"
done_testing
