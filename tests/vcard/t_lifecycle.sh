#!/bin/bash
# Virtual cards as objects in the world: four at once, removal and
# reinsertion keep state, swap and new via vcardctl, a torn write leaves a
# consistent card, trace totals, injected status words, reconnect to a
# restarted pcscd.
. "$(dirname "$0")/vcenv.sh"

export VCARD=$BIN/vcard
CTL="$TOP/tests/vcard/vcardctl -d $T/run"
Y() { yubico-piv-tool -r "$(reader_name "$1")" "${@:2}"; }
ykm() { ykman --reader "$(reader_name "$1")" piv "${@:2}"; }
serial_of() { Y "$1" -a status 2>/dev/null | sed -n 's/^Serial Number:[[:space:]]*//p'; }
guid_of() { opensc-tool -r "$(reader_name "$1")" --serial 2>/dev/null | cut -c1-48 | tr -d ' '; }

# Command line: refusals leave files alone.
check_fails "a missing state file without --create is an error" \
    "$BIN/vcard" --state "$T/none.state" --port 1
check_fails "... and is not created" test -e "$T/none.state"
check_fails "bad --inject-sw is refused" "$BIN/vcard" --state x --inject-sw 20=zz
check_fails "--stall-on with a zeroth time is refused" "$BIN/vcard" --state x --stall-on 47:0
check_fails "--stall-on with trailing junk is refused" "$BIN/vcard" --state x --stall-on 47x
check_fails "--stall-after 0 is refused" "$BIN/vcard" --state x --stall-after 0
check_fails "unknown option is refused" "$BIN/vcard" --state x --frobnicate
check "--create-only makes a card file" "$BIN/vcard" --state "$T/cli.state" --create-only --serial 99
head -c 100 "$T/cli.state" >"$T/cut.state"
cp "$T/cut.state" "$T/cut.orig"
check_fails "a truncated state file is refused" "$BIN/vcard" --state "$T/cut.state" --create --port 1
check "... and left as it was" cmp "$T/cut.state" "$T/cut.orig"
check_eq "state file is private (0600)" 600 "$(stat -c %a "$T/cli.state")"

"$BIN/vcard" --state "$T/sig.state" --create --port "$(reader_port 3)" 2>/dev/null &
sigpid=$!
for _ in $(seq 100); do opensc-tool -l 2>/dev/null | grep -q "Yes .*$(reader_name 3)" && break; sleep 0.05; done
check_grep "a card started by hand shows up" "Yes .*$(reader_name 3)" <(opensc-tool -l 2>&1)
kill -TERM $sigpid
wait $sigpid
check_eq "SIGTERM: card removed, exit status 0" 0 $?

for i in 0 1 2 3; do
	check "vcardctl insert $i" $CTL insert $i "$T/card$i.state" --create
done
check_eq "vcardctl list shows 4 cards" 4 "$($CTL list | wc -l)"
serials=$(for i in 0 1 2 3; do serial_of $i; done | sort -u | grep -c .)
check_eq "4 distinct serials (yubico-piv-tool)" 4 "$serials"
guids=$(for i in 0 1 2 3; do guid_of $i; done | sort -u | grep -c '^[0-9A-F]\{32\}$')
check_eq "4 distinct CHUID GUIDs (opensc-tool)" 4 "$guids"

timeout 5 "$BIN/vcard" --state "$T/card0.state" --port 1 2>dup.txt
check_eq "a card in reader 0 cannot also go into another reader (exit 1)" 1 $?
check_grep "... because it is in use" 'already in use' dup.txt

# State survives removal: a key, its certificate and a PIN counter.
check "generate P-256 in card 0" Y 0 -a generate -s 9a -A ECCP256 -o pub0.pem
ykm 0 certificates generate -m $MGM -P 123456 -s CN=card0 9a pub0.pem >/dev/null 2>&1
ykm 0 certificates export 9a cert0.pem >/dev/null 2>&1
Y 0 -a verify-pin -P 000000 >/dev/null 2>&1
s0=$(serial_of 0)
check "vcardctl remove 0" $CTL remove 0
check_fails "reader 0 is empty" opensc-tool -r "$(reader_name 0)" -a
check "reinsert card 0" $CTL insert 0 "$T/card0.state"
check_eq "same serial after reinsertion" "$s0" "$(serial_of 0)"
check_grep "PIN counter kept (2/3)" '^PIN tries remaining: 2/3$' <(ykm 0 info 2>&1)
check "the key made before removal still signs (ykpiv checks with the certificate)" \
    Y 0 -a verify-pin -P 123456 -a test-signature -s 9a -i cert0.pem

# Swap reader 1 to a new card made with vcardctl new, then back.
s1=$(serial_of 1)
check "vcardctl new" $CTL new "$T/new.state" --serial 7654321
check_fails "vcardctl new refuses to overwrite" $CTL new "$T/new.state"
check "vcardctl swap 1" $CTL swap 1 "$T/new.state"
check_eq "reader 1 now shows the new card" 7654321 "$(serial_of 1)"
check "swap back" $CTL swap 1 "$T/card1.state"
check_eq "reader 1 shows its first card again" "$s1" "$(serial_of 1)"

# Tear: pull the card after the Nth APDU of a certificate import, for every N
# the import takes. Reinserted, the card must load and hold either no
# certificate or exactly the one sent, never a piece of it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj /CN=tear \
    -out tear.pem 2>/dev/null
$CTL remove 2
torn=0 whole=0 broken=0
for n in 3 4 5 6 7 8 9 10 11; do
	cp "$T/card2.state" "$T/tear.state"
	$CTL insert 2 "$T/tear.state" --tear-after $n >/dev/null 2>&1 || { broken=$((broken + 1)); continue; }
	Y 2 -a import-certificate -s 9a -i tear.pem >/dev/null 2>&1
	$CTL remove 2 >/dev/null 2>&1
	if ! $CTL insert 2 "$T/tear.state" >/dev/null 2>&1; then
		broken=$((broken + 1)); continue
	fi
	if Y 2 -a read-certificate -s 9a -o back.pem >/dev/null 2>&1; then
		if cmp -s <(openssl x509 -in back.pem -outform DER) \
		    <(openssl x509 -in tear.pem -outform DER); then
			whole=$((whole + 1))
		else
			broken=$((broken + 1))
		fi
	else
		torn=$((torn + 1))
	fi
	$CTL remove 2 >/dev/null 2>&1
done
echo "# tear sweep: $torn without certificate, $whole with it, $broken broken"
check_eq "no torn import leaves a broken card or a partial certificate" 0 "$broken"
check "some tears came before the write" test "$torn" -gt 0
check "some tears came after the write" test "$whole" -gt 0
check_fails "no temporary state file left" ls "$T"/tear.state.tmp.*

# Trace totals: on SIGUSR1 and at exit; counts match the per-APDU lines.
check "insert card 2 with a trace" $CTL insert 2 "$T/card2.state" --trace "$T/t2"
Y 2 -a status >/dev/null 2>&1
Y 2 -a verify-pin -P 123456 >/dev/null 2>&1
kill -USR1 "$(cat "$T/run/2.pid")"
for _ in $(seq 50); do grep -q '^vcard-trace-totals' "$T/t2" && break; sleep 0.05; done
line=$(grep '^vcard-trace-totals' "$T/t2" | tail -n 1)
check_grep "SIGUSR1 writes the totals line" '^vcard-trace-totals apdus=[0-9]+ cmd_bytes=[0-9]+ rsp_bytes=[0-9]+$' "$T/t2"
check_eq "apdus = command lines" "apdus=$(grep -c '^> ' "$T/t2")" "$(echo "$line" | cut -d' ' -f2)"
check_eq "cmd_bytes = sum of command lengths" \
    "cmd_bytes=$(grep '^> ' "$T/t2" | sed 's/.* len=\([0-9]*\).*/\1/' | paste -sd+ | bc)" \
    "$(echo "$line" | cut -d' ' -f3)"
check_eq "rsp_bytes = sum of response lengths" \
    "rsp_bytes=$(grep '^< ' "$T/t2" | sed 's/.* len=\([0-9]*\).*/\1/' | paste -sd+ | bc)" \
    "$(echo "$line" | cut -d' ' -f4)"
check_grep "PIN redacted in the trace" 'ins=20 .*body=<redacted 9 bytes>' "$T/t2"
check_fails "no PIN bytes in the trace" grep -q '313233343536' "$T/t2"
$CTL remove 2
check_eq "exit writes a final totals line" 2 "$(grep -c '^vcard-trace-totals' "$T/t2")"

# Slow card: per-APDU latency and key generation delay change nothing else.
check "insert card 2 with --latency-ms 2 --keygen-ms 20" $CTL insert 2 "$T/card2.state" \
    --latency-ms 2 --keygen-ms 20
check "a slow card still generates" Y 2 -a generate -s 9e -A ECCP256 -o slow.pem
ykm 2 keys export 9e slowx.pem >/dev/null 2>&1
check "... the key it returned" cmp slow.pem slowx.pem
$CTL remove 2

# Injected status words: the first two VERIFYs (ykpiv's empty one when it
# connects, then the PIN) answer 6983 (blocked), later ones are real.
check "insert card 2 with --inject-sw 20=6983:2" $CTL insert 2 "$T/card2.state" \
    --inject-sw 20=6983:2
Y 2 -a verify-pin -P 123456 >inj.txt 2>&1
check_grep "first VERIFY sees the injected 6983" 'blocked' inj.txt
check "second VERIFY is real" Y 2 -a verify-pin -P 123456
$CTL remove 2

# pcscd restart: --reconnect cards come back by themselves, the others exit.
check "insert card 2 with --reconnect" $CTL insert 2 "$T/card2.state" --reconnect
kill "$(cat "$T/pids/pcscd")"
wait "$(cat "$T/pids/pcscd")" 2>/dev/null
pcscd -f -c "$T/readers" >>"$T/pcscd.log" 2>&1 &
echo $! >"$T/pids/pcscd"
pcscenv_wait_readers 4
for _ in $(seq 100); do card_present 2 && break; sleep 0.05; done
check "the --reconnect card is back" card_present 2
check_fails "a card without --reconnect is gone" card_present 3
check_fails "its vcard process exited" kill -0 "$(cat "$T/run/3.pid")"
done_testing
