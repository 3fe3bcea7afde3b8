# make demo (first version): pcscd + one blank virtual card that stock clients can use,
# and make demo-stop leaves nothing running. Runs in private namespaces so it never
# meets a demo the developer may have running.
. "$TOP/tests/lib/tap.sh"
if [ -z "${DEMO_INNER:-}" ]; then
	mkdir -p /run/pcscd
	DEMO_INNER=1 exec unshare --mount --net --pid --fork --mount-proc --propagation private \
	    bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run/pcscd && ip link set lo up || exit 1
export DEMO_DIR; DEMO_DIR=$(mktemp -d); export HOME=$DEMO_DIR/home; mkdir -p "$HOME"
chmod 755 "$DEMO_DIR"	# the station's service users traverse it
export DEMO_STATION_DIR=$DEMO_DIR/station
trap 'rm -rf "$DEMO_DIR"' EXIT

out=$("$TOP/tests/demo.sh" start 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
check_eq "demo starts" 0 "$rc"
reader=$(echo "$out" | sed -n 's/^ *Reader: *//p')
check_eq "it names the reader to use" "Virtual PCD 0 00 00" "$reader"
check_grep "it prints a yubico-piv-tool command for that reader" \
    "yubico-piv-tool -r \"$reader\" -a status" <(echo "$out")
BIN=${BIN:-$TOP/build/release/bin}
st=$(yubico-piv-tool -r "$reader" -a status 2>&1)
echo "$st" | sed 's/^/#   /'
check_grep "yubico-piv-tool sees a PIV card with a serial" '^Serial Number:' <(echo "$st")
check "the factory PIN works" yubico-piv-tool -r "$reader" -a verify-pin -P 123456
check_eq "OpenSC recognizes it as a PIV card" "Personal Identity Verification Card" "$(opensc-tool -r "$reader" -n 2>/dev/null)"
check "the card state is in DEMO_DIR" test -s "$DEMO_DIR/card0.state"

# The station: what the demo prints, done as a script would (--secrets-fd).
uid=2001
cm() { setpriv --reuid=$uid --regid=$uid --clear-groups "$BIN/cardmgr" -s "$DEMO_STATION_DIR/run/api.sock" "$@"; }
check_grep "it prints the CLI alias for the demo operator" "alias cm=" <(echo "$out")
check "cardmgrd answers the demo operator" cm status
check "adding a holder works" cm holders add --id E100 --name "Jane Doe" --email jane@example.com
printf '461937\na-one\na-two\na-three\na-four\na-five\n' >"$DEMO_DIR/s"
cm --json --secrets-fd 3 issue --reader "$reader" --holder E100 --profile employee \
    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$DEMO_DIR/s" >"$DEMO_DIR/i.json"
st=
for _ in $(seq 120); do
	st=$(cm --json op show 1 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
	[ -n "$st" ] && [ "$st" != running ] && break
	sleep 0.25
done
check_eq "the demo card issues end to end" done "$st"
check "and OpenSC logs in with the holder's PIN" pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so \
    --login --pin 461937 --list-objects

check "make demo-stop equivalent stops it" "$TOP/tests/demo.sh" stop
sleep 0.5
check_fails "no pcscd left" pgrep -x pcscd
check_fails "no vcard left" pgrep -x vcard
check_fails "no cardmgrd left" pgrep -x cardmgrd
check_fails "no test CA left" pgrep -x testca
check_fails "no nginx left" pgrep -x nginx
done_testing
