#!/bin/bash
# tests/keyd/kstoken.sh, the token set-up the daemon tests share: a fresh
# SoftHSM2 token that stock tools see, and a PIN file keyd can read as is.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/keyd/kstoken.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

check "kstoken_init makes a token" kstoken_init "$T/a" keyd-a 'pin 0815'
check_eq "SOFTHSM2_CONF points into the test dir" "$T/a/softhsm2.conf" "$SOFTHSM2_CONF"
check_grep "softhsm2-util lists it" 'Label:[[:space:]]*keyd-a' <(softhsm2-util --show-slots)
check_eq "the PIN file holds the PIN bytes, no newline" "$(printf 'pin 0815' | od -An -tx1)" \
    "$(od -An -tx1 "$T/a/pin")"
check_eq "the PIN file is private" 600 "$(stat -c %a "$T/a/pin")"
check "pkcs11-tool logs in with it" pkcs11-tool --module "$KSTOKEN_MODULE" \
    --token-label keyd-a --login --pin "$(cat "$T/a/pin")" --list-objects
check_fails "and not with another PIN" pkcs11-tool --module "$KSTOKEN_MODULE" \
    --token-label keyd-a --login --pin 'pin 0816' --list-objects
check "a second call makes an independent token" kstoken_init "$T/b" keyd-b 4711
check_fails "which does not see the first" bash -c \
    "softhsm2-util --show-slots | grep -q 'Label:[[:space:]]*keyd-a'"
done_testing
