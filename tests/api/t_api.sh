# The api process end to end: api_main in tests/api/api_harness.c with a fake
# engine that echoes what it decoded; driven with curl (TCP and UNIX socket)
# and with the real cardmgr CLI. Checks the refusals, the actor, sealed
# secrets end to end, the engine deadline, concurrency, and fail-closed exit.
. "$TOP/tests/lib/tap.sh"
H=$BIN/api_harness
C=$BIN/cardmgr
for b in "$H" "$C"; do
	[ -x "$b" ] || { echo "# missing $b (make $b)"; exit 1; }
done
dir=$(mktemp -d /tmp/t_api.XXXXXX)
chmod 755 "$dir"
hpid=
cleanup() {
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

start() {	# start the harness (engine deadline $1 s); sets hpid, port, T
	rm -f "$dir/ready" "$dir/port" "$dir/api.sock"
	"$H" serve "$dir" "${1:-2}" 2>>"$dir/api.log" &
	hpid=$!
	for _ in $(seq 100); do
		[ -s "$dir/ready" ] && [ -S "$dir/api.sock" ] && break
		sleep 0.1
	done
	sleep 0.2
	port=$(cat "$dir/port")
	T=http://127.0.0.1:$port
}

# http ARGS...: curl; status in $st, body in $dir/body, headers in $dir/hdr.
http() {
	st=$(curl -sS -o "$dir/body" -D "$dir/hdr" -w '%{http_code}' "$@" 2>"$dir/curl.err")
}
U() { http --unix-socket "$dir/api.sock" "$@"; }
jget() {	# jget FILE PYEXPR (d is the document)
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
# refused STATUS CODE DESC curl-args...: status, JSON error body, then the
# server still answers a good request.
refused() {
	local want=$1 code=$2 desc=$3; shift 3
	http "$@"
	check_eq "$desc: HTTP $want" "$want" "$st"
	check_eq "$desc: error $code, with a message" "$code yes" \
	    "$(jget "$dir/body" 'd["error"] + " " + ("yes" if d["message"] else "no")')"
	http "$T/v1/status"
	check_eq "$desc: next good request answered" "200 status" \
	    "$st $(jget "$dir/body" 'd["op"]')"
}
J=(-H 'Content-Type: application/json')
wait_s=3	# the engine deadline given to the api

# docs/api.yaml documents exactly the operation table (names, methods, paths).
doc_ops=$(python3 - "$TOP/docs/api.yaml" <<'EOF'
import re, sys
path = method = None
for l in open(sys.argv[1]):
    m = re.match(r'^  (/\S+):\s*$', l)
    if m: path = m.group(1); continue
    m = re.match(r'^    (get|post|put|delete|patch):\s*$', l)
    if m: method = m.group(1).upper(); continue
    m = re.match(r'^      operationId: (\S+)\s*$', l)
    if m: print(m.group(1), method, path)
EOF
)
check_eq "docs/api.yaml lists every operation of the table, and only those" \
    "$("$H" ops | sort)" "$(printf '%s\n' "$doc_ops" | sort)"

start $wait_s

# -- good requests, headers, actors
http "$T/v1/status"
check_eq "TCP GET /v1/status: 200" 200 "$st"
check_eq "TCP without a token: actor none" "status none" \
    "$(jget "$dir/body" 'd["op"] + " " + d["actor"]["kind"]')"
check_grep "Content-Type is application/json" '^Content-Type: application/json' "$dir/hdr"
check_grep "X-Content-Type-Options: nosniff" '^X-Content-Type-Options: nosniff' "$dir/hdr"
check_grep "Cache-Control: no-store" '^Cache-Control: no-store' "$dir/hdr"
check_grep "CSP default-src 'none'" "^Content-Security-Policy: default-src 'none'" "$dir/hdr"
U http://x/v1/status
check_eq "UNIX socket: actor uid is the client's (id -u)" "uid $(id -u)" \
    "$(jget "$dir/body" 'd["actor"]["kind"] + " " + str(d["actor"]["uid"])')"
http -H 'Authorization: Bearer kiosk-Session.42' "$T/v1/status"
check_eq "TCP Bearer token reaches the engine as a session actor" \
    "session kiosk-Session.42" \
    "$(jget "$dir/body" 'd["actor"]["kind"] + " " + d["actor"]["token"]')"
http "${J[@]}" -d '{"id":"h1","name":"Ann Lee","email":"ann@example.org","attributes":["dept=ops"]}' "$T/v1/holders"
check_eq "POST /v1/holders: arguments arrive decoded" "200 holder_add h1 Ann Lee dept=ops" \
    "$st $(jget "$dir/body" 'd["op"]+" "+d["args"]["id"]+" "+d["args"]["name"]+" "+d["args"]["attributes"][0]')"
http "$T/v1/cards?state=active&limit=5&holder=h%2D1"
check_eq "GET /v1/cards query arguments decoded" "200 active 5 h-1" \
    "$st $(jget "$dir/body" 'd["args"]["state"]+" "+str(d["args"]["limit"])+" "+d["args"]["holder"]')"

# -- refusals, each followed by a good request
refused 400 bad_json "malformed JSON" "${J[@]}" -d '{"id":"h1",' "$T/v1/holders"
refused 400 duplicate_field "duplicate member" "${J[@]}" -d '{"id":"a","id":"b","name":"n"}' "$T/v1/holders"
refused 400 unknown_field "unknown field" "${J[@]}" -d '{"id":"a","name":"n","admin":true}' "$T/v1/holders"
refused 400 wrong_type "wrong type" "${J[@]}" -d '{"id":7,"name":"n"}' "$T/v1/holders"
refused 400 missing_field "missing required field" "${J[@]}" -d '{"id":"a"}' "$T/v1/holders"
refused 415 unsupported_media_type "form content type" -d 'id=a&name=n' "$T/v1/holders"
head -c 70000 /dev/zero | tr '\0' ' ' >"$dir/big"
refused 413 payload_too_large "oversized body (Content-Length)" "${J[@]}" --data-binary @"$dir/big" "$T/v1/audit/verify"
refused 413 payload_too_large "oversized body (chunked)" "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$dir/big" "$T/v1/audit/verify"
refused 400 bad_path "traversal ../ in a path" --path-as-is "$T/v1/cards/../holders"
refused 400 bad_path "traversal %2e%2e%2f in a param" --path-as-is "$T/v1/cards/%2e%2e%2fetc"
refused 400 bad_path "NUL in a param" --path-as-is "$T/v1/cards/a%00"
refused 400 bad_path "'..' inside a param" "$T/v1/cards/a..b"
refused 400 bad_value "traversal in a query value" "$T/v1/cards?holder=..%2Fx"
refused 400 unknown_field "unknown query argument" "$T/v1/cards?color=red"
refused 404 not_found "unknown path" "$T/v1/nothing"
http -X DELETE "$T/v1/cards/c1"
check_grep "405 says Allow: GET" '^Allow: GET.$' "$dir/hdr"
http -X PUT "$T/v1/holders"
check_grep "405 on a path with both: Allow: GET, POST" '^Allow: GET, POST.$' "$dir/hdr"
refused 405 method_not_allowed "wrong method" -X DELETE "$T/v1/cards/c1"
refused 421 bad_host "foreign Host header (DNS rebinding)" -H 'Host: evil.example' "$T/v1/status"
refused 401 bad_token "malformed Authorization" -H 'Authorization: Basic Zm9vOmJhcg==' "$T/v1/status"

# -- sealed secrets: what the client sealed arrives unchanged and opens right
http "$T/v1/session-key"
key=$(jget "$dir/body" 'd["key"]')
check_eq "session key is 32 bytes" 32 "$(printf '%s' "$key" | base64 -d | wc -c)"
box=$(printf '246810\n' | "$H" seal "$key")
ans=$(printf 'blue whale\n' | "$H" seal "$key")
http "${J[@]}" -d "{\"reader\":\"Reader 0\",\"holder\":\"h1\",\"profile\":\"piv\",\"pin\":\"$box\",\"answers\":[{\"question\":4,\"answer\":\"$ans\"}]}" "$T/v1/issue"
check_eq "issue with sealed PIN: 200" 200 "$st"
check_eq "the engine got exactly the ciphertext sent" "$box $ans" \
    "$(jget "$dir/body" 'd["args"]["pin"]["sealed"]+" "+d["args"]["answers"][0]["answer"]["sealed"]')"
check_eq "and it opens to the PIN" "$(printf 246810 | sha256sum | cut -d' ' -f1)" \
    "$(jget "$dir/body" 'd["args"]["pin"]["sha256"]')"
check_eq "and the answer" "$(printf 'blue whale' | sha256sum | cut -d' ' -f1)" \
    "$(jget "$dir/body" 'd["args"]["answers"][0]["answer"]["sha256"]')"
refused 400 bad_value "a plaintext PIN instead of a sealed one" "${J[@]}" \
    -d '{"reader":"R","holder":"h1","profile":"piv","pin":"123456"}' "$T/v1/issue"

# -- the CLI
out=$("$C" -s "$dir/api.sock" status); rc=$?
check_eq "cardmgr status: exit 0" 0 "$rc"
check_grep "cardmgr status: human output shows the uid" "^  uid: $(id -u)\$" <(printf '%s\n' "$out")
out=$("$C" -s "$dir/api.sock" --json cards list --state lost --limit 3)
check_eq "cardmgr --json cards list: raw JSON" "card_list lost 3" \
    "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["op"], d["args"]["state"], d["args"]["limit"])')"
printf '135790\nfirst answer\nsecond answer\n' >"$dir/sec"
"$C" -s "$dir/api.sock" --json --secrets-fd 3 issue --reader 'Reader 0' --holder h1 \
    --profile piv --question 2 --question 5 3<"$dir/sec" >"$dir/out"
check_eq "cardmgr issue: secrets from --secrets-fd open to what was typed" \
    "$(for s in 135790 'first answer' 'second answer'; do printf %s "$s" | sha256sum | cut -d' ' -f1; done | tr '\n' ' ')" \
    "$(jget "$dir/out" '" ".join([d["args"]["pin"]["sha256"]] + [a["answer"]["sha256"] for a in d["args"]["answers"]]) + " "')"
check_eq "cardmgr issue: questions in order" "[2, 5]" \
    "$(jget "$dir/out" '[a["question"] for a in d["args"]["answers"]]')"
check_fails "no secret appears on the wire in clear" grep -q '135790' "$dir/out"
printf '111111\n22222222\n22222222\n' | "$C" -s "$dir/api.sock" --json --secrets-fd 0 \
    pin-change c-7 --reader R >"$dir/out"
check_eq "cardmgr pin-change: old, new, new again in that order" \
    "$(for s in 111111 22222222 22222222; do printf %s "$s" | sha256sum | cut -d' ' -f1; done | tr '\n' ' ')c-7" \
    "$(jget "$dir/out" '" ".join(d["args"][k]["sha256"] for k in ("old_pin","new_pin","new_pin_again")) + " " + d["args"]["card"]')"
printf 'rex\nparis\n975310\n' >"$dir/sec"
"$C" -s "$dir/api.sock" --json --secrets-fd 3 unblock c-7 --reader R 3<"$dir/sec" >"$dir/out"
check_eq "cardmgr unblock: answers the engine's questions, then the new PIN" \
    "ch-1 3 7 $(for s in rex paris 975310; do printf %s "$s" | sha256sum | cut -d' ' -f1; done | tr '\n' ' ')" \
    "$(jget "$dir/out" 'd["args"]["challenge"]+" "+" ".join(str(a["question"]) for a in d["args"]["answers"])+" "+" ".join(a["answer"]["sha256"] for a in d["args"]["answers"])+" "+d["args"]["new_pin"]["sha256"]+" "')"
printf 'rex\nparis\n97531\n' >"$dir/sec"
"$C" -s "$dir/api.sock" --secrets-fd 3 unblock c-7 --reader R 3<"$dir/sec" >/dev/null 2>"$dir/err"
check_eq "cardmgr unblock: a 5-digit PIN is refused by the api's size check" 1 "$?"
check_grep "as bad_value" 'new_pin: sealed box of a wrong size \(bad_value' "$dir/err"
"$C" -s "$dir/api.sock" holders add --id pending --name P >/dev/null 2>&1
check_eq "cardmgr: 202 accepted-pending exits 3" 3 "$?"
"$C" -s "$dir/api.sock" holders add --id refused --name P >/dev/null 2>&1
check_eq "cardmgr: 403 refused exits 4" 4 "$?"
"$C" -s "$dir/api.sock" retire c-7 --reason bored >/dev/null 2>"$dir/err"
check_eq "cardmgr: 400 exits 1" 1 "$?"
check_grep "cardmgr prints the API's message" 'reason is out of bounds \(bad_value, HTTP 400\)' "$dir/err"
"$C" -s "$dir/api.sock" cards show 'a/../b' >/dev/null 2>&1
check_eq "cardmgr escapes path segments (a/../b refused, exit 1)" 1 "$?"
"$C" -s "$dir/api.sock" issue --reader R >/dev/null 2>&1
check_eq "cardmgr: usage error exits 2" 2 "$?"
# On a terminal: prompts, echo off, the PIN asked twice.
python3 "$TOP/tests/api/pty_drive.py" "$dir/tty" 'New PIN: ' 864200 'Again: New PIN: ' 864200 \
    'question 9: ' 'my secret answer' -- "$C" -s "$dir/api.sock" --json issue \
    --reader R --holder h1 --profile piv --question 9 >/dev/null
check_eq "cardmgr on a terminal: exit 0" 0 "$?"
check_eq "terminal secrets reach the engine sealed and intact" \
    "$(for s in 864200 'my secret answer'; do printf %s "$s" | sha256sum | cut -d' ' -f1; done | tr '\n' ' ')" \
    "$(sed -n '/^{/p' "$dir/tty" | tr -d '\r' >"$dir/tty.json"; jget "$dir/tty.json" 'd["args"]["pin"]["sha256"]+" "+d["args"]["answers"][0]["answer"]["sha256"]+" "')"
check_fails "and were not echoed on the terminal" grep -qE '864200|my secret answer' "$dir/tty"
python3 "$TOP/tests/api/pty_drive.py" "$dir/tty" 'New PIN: ' 864200 'Again: New PIN: ' 864201 \
    -- "$C" -s "$dir/api.sock" issue --reader R --holder h1 --profile piv >/dev/null
check_eq "cardmgr on a terminal: two different PINs refused (exit 1)" 1 "$?"
check_grep "saying so" 'the two entries differ' "$dir/tty"
setsid -w "$C" -s "$dir/api.sock" issue --reader R --holder h1 --profile piv </dev/null >/dev/null 2>"$dir/err"
check_eq "cardmgr: no terminal and no --secrets-fd: refuses (exit 1)" 1 "$?"
check_grep "and says to use --secrets-fd" 'use --secrets-fd' "$dir/err"

# -- engine deadline and concurrency
curl -s -o "$dir/slow" "${J[@]}" -d '{"id":"slow","name":"n"}' "$T/v1/holders" &
slow=$!
sleep 0.3
http "$T/v1/status"
check_eq "a request answered while another waits on the engine" 200 "$st"
check "before the waiting one timed out (its client still waits)" kill -0 "$slow"
wait "$slow"
check_eq "the waiting one got 504" engine_timeout "$(jget "$dir/slow" 'd["error"]')"
refused 504 engine_timeout "engine does not answer" "${J[@]}" -d '{"id":"slow","name":"n"}' "$T/v1/holders"

http "${J[@]}" -d '{"id":"late","name":"n"}' "$T/v1/holders"
check_eq "an answer after the deadline: the client already had 504" 504 "$st"
http "$T/v1/status"
check_eq "and the late answer is not given to the next request" "200 status" \
    "$st $(jget "$dir/body" 'd["op"]')"
check_grep "the api dropped it" 'late engine answer to request [0-9]+ dropped' "$dir/api.log"

# -- what the engine answers is checked before it is relayed
http "${J[@]}" -d '{"id":"pem","name":"n"}' "$T/v1/holders"
check_eq "the engine's content type is relayed" "200" "$st"
check_grep "as Content-Type" '^Content-Type: application/pem-certificate-chain' "$dir/hdr"
check_grep "with nosniff still" '^X-Content-Type-Options: nosniff' "$dir/hdr"
http "${J[@]}" -d '{"id":"crlf","name":"n"}' "$T/v1/holders"
check_fails "a content type with CR/LF from the engine injects no header" grep -qi '^Set-Cookie' "$dir/hdr"
refused 502 engine_error "a content type with CR/LF from the engine" "${J[@]}" -d '{"id":"crlf","name":"n"}' "$T/v1/holders"
refused 502 engine_error "an impossible status from the engine" "${J[@]}" -d '{"id":"status99","name":"n"}' "$T/v1/holders"

# -- fail closed
kill -9 "$(cat "$dir/engine.pid")"
for _ in $(seq 50); do kill -0 "$hpid" 2>/dev/null || break; sleep 0.1; done
wait "$hpid"; rc=$?
hpid=
check "engine death: api exits non-zero ($rc)" test "$rc" -ne 0 -a "$rc" -lt 128
check_grep "and says why" 'engine link: peer closed' "$dir/api.log"
start 2
http "${J[@]}" -d '{"id":"garbage","name":"n"}' "$T/v1/holders"
for _ in $(seq 50); do kill -0 "$hpid" 2>/dev/null || break; sleep 0.1; done
wait "$hpid"; rc=$?
hpid=
check "malformed engine message: api exits non-zero ($rc)" test "$rc" -ne 0 -a "$rc" -lt 128
check_eq "and the waiting client got 503" 503 "$st"
start 2
kill -TERM "$hpid"
wait "$hpid"; rc=$?
hpid=
check_eq "SIGTERM: api exits 0 (and leaks nothing under ASan)" 0 "$rc"
timeout 20 "$H" serve "$dir" 2 any 2>"$dir/any.log"
check_eq "a TCP listener beyond loopback: api refuses to serve (exit 1)" 1 "$?"
check_grep "and says why" 'TCP listener is not on 127.0.0.1' "$dir/any.log"
done_testing
