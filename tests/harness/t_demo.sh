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
trap 'rm -rf "$DEMO_DIR"' EXIT

out=$("$TOP/tests/demo.sh" start 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
check_eq "demo starts" 0 "$rc"
reader=$(echo "$out" | sed -n 's/^ *Reader: *//p')
check_eq "it names the reader to use" "Virtual PCD 0 00 00" "$reader"
check_grep "it prints a yubico-piv-tool command for that reader" \
    "yubico-piv-tool -r \"$reader\" -a status" <(echo "$out")
st=$(yubico-piv-tool -r "$reader" -a status 2>&1)
echo "$st" | sed 's/^/#   /'
check_grep "yubico-piv-tool sees a PIV card with a serial" '^Serial Number:' <(echo "$st")
check "the factory PIN works" yubico-piv-tool -r "$reader" -a verify-pin -P 123456
check_eq "OpenSC recognizes it as a PIV card" "Personal Identity Verification Card" "$(opensc-tool -r "$reader" -n 2>/dev/null)"
check "the card state is in DEMO_DIR" test -s "$DEMO_DIR/card0.state"

check "make demo-stop equivalent stops it" "$TOP/tests/demo.sh" stop
sleep 0.5
check_fails "no pcscd left" pgrep -x pcscd
check_fails "no vcard left" pgrep -x vcard
done_testing
