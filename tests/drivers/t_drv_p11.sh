#!/bin/bash
# drivers/p11 over libp11: SoftHSM2 tokens (standing in for vendor USB tokens)
# and PIV cards through opensc-pkcs11; effects checked with softhsm2-util,
# pkcs11-tool and openssl.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@"
. "$TOP/tests/drivers/lib.sh"
opensc_private
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/tokens" >"$SOFTHSM2_CONF"
hsm() { "$BIN/drvtool" -m "$SOFTHSM" "$@"; }
# hsms NAME=VALUE... -- ARGS: hsm with those secrets on --secrets-fd 3
hsms() {
	local sec=()
	while [ "$1" != -- ]; do sec+=("$1"); shift; done
	shift
	hsm --secrets-fd 3 "$@" 3< <(printf '%s\n' "${sec[@]}")
}
hsmtool() { pkcs11-tool --module "$SOFTHSM" "$@"; }
echo challenge >"$T/msg"

# --- a token with one good key+certificate (id 01) made by stock tools
softhsm2-util --init-token --free --label tok1 --so-pin 87654321 --pin 1111 >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k1.pem" -out "$T/c1.pem" \
    -subj /CN=k1 -days 1 2>/dev/null
openssl pkey -in "$T/k1.pem" -outform der -out "$T/k1.der"
openssl x509 -in "$T/c1.pem" -outform der -out "$T/c1.der"
hsmtool --login --pin 1111 --token-label tok1 --write-object "$T/k1.der" --type privkey \
    --id 01 --label k1 >/dev/null 2>&1
hsmtool --login --pin 1111 --token-label tok1 --write-object "$T/c1.der" --type cert \
    --id 01 --label k1 >/dev/null 2>&1

check_grep "a module that does not exist: P11_ERR_LOAD" 'error: P11_ERR_LOAD' \
    <("$BIN/drvtool" -m "$T/nonexistent.so" p11-list)
hsm p11-list >"$T/list"
check_grep "p11-list: SoftHSM token as a generic PKCS#11 token" \
    '^token slot=[0-9]+ kind=pkcs11 label=tok1 ' "$T/list"
serial=$(softhsm2-util --show-slots | awk '/Label:[[:space:]]*tok1/{f=1} f&&/Serial number/{print $3; exit}')
check_grep "serial matches softhsm2-util" "label=tok1 .*serial=$serial" "$T/list"
check "self-test passes on the good token" hsms pin=1111 -- p11-selftest tok1
check_grep "one key checked" '^checked=1$' <(hsms pin=1111 -- p11-selftest tok1)
check "p11-sign with key 01" hsms pin=1111 -- -o "$T/sig" p11-sign tok1 01 "$T/msg"
check "openssl verifies it with the certificate" openssl dgst -sha256 \
    -verify <(openssl x509 -in "$T/c1.pem" -pubkey -noout) -signature "$T/sig" "$T/msg"
hsms pin=9999 -- p11-selftest tok1 >"$T/bad" 2>&1
check_grep "wrong PIN: P11_ERR_PIN_INCORRECT" 'error: P11_ERR_PIN_INCORRECT' "$T/bad"

# --- a certificate that does not belong to its key: the station refuses it
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k2.pem" -out "$T/c2.pem" \
    -subj /CN=k2 -days 1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k3.pem" -out "$T/c3.pem" \
    -subj /CN=other -days 1 2>/dev/null
openssl pkey -in "$T/k2.pem" -outform der -out "$T/k2.der"
openssl x509 -in "$T/c3.pem" -outform der -out "$T/c3.der"
hsmtool --login --pin 1111 --token-label tok1 --write-object "$T/k2.der" --type privkey \
    --id 02 --label k2 >/dev/null 2>&1
hsmtool --login --pin 1111 --token-label tok1 --write-object "$T/c3.der" --type cert \
    --id 02 --label k2 >/dev/null 2>&1
hsms pin=1111 -- p11-selftest tok1 >"$T/st" 2>&1
check_eq "self-test fails with a mismatched certificate" 1 $?
check_grep "P11_ERR_SELFTEST" 'error: P11_ERR_SELFTEST' "$T/st"
check_grep "2 checked, 1 failed" '^failed=1$' "$T/st"

# --- PIN change, unblock, token initialisation
check "change user PIN" hsms old=1111 new=22223333 -- p11-change-pin tok1
check "pkcs11-tool logs in with the new PIN" hsmtool --token-label tok1 --login \
    --pin 22223333 --list-objects
check_fails "old PIN refused by pkcs11-tool" hsmtool --token-label tok1 --login --pin 1111 \
    --list-objects
check "unblock: SO login + C_InitPIN" hsms sopin=87654321 newpin=44445555 -- p11-unblock tok1
check "pkcs11-tool logs in with the reset PIN" hsmtool --token-label tok1 --login \
    --pin 44445555 --list-objects
hsms sopin=00000000 newpin=44445555 -- p11-unblock tok1 >"$T/so" 2>&1
check_grep "wrong SO PIN refused" 'error: P11_ERR_PIN_INCORRECT' "$T/so"
free=$(hsm p11-list | grep -v 'label=tok1 ' | sed -n 's/^token slot=\([0-9]*\) .*/\1/p' | head -1)
check "initialise the free token" hsms sopin=12121212 userpin=5555 -- p11-init "$free" tok2
check_grep "softhsm2-util shows tok2" 'Label:[[:space:]]*tok2' <(softhsm2-util --show-slots)
check "pkcs11-tool logs in to tok2 with its user PIN" hsmtool --token-label tok2 --login \
    --pin 5555 --list-objects
hsms pin=5555 -- p11-selftest tok2 >"$T/empty" 2>&1
check_grep "self-test of an empty token: no keys" 'error: P11_ERR_NO_KEYS' "$T/empty"

# --- a PIV card through opensc-pkcs11 after issuance
make_ca
vcard_insert 0 "$T/card.state" --create --serial 5150 >/dev/null
check "issue the card (4 keys, certificates, CHUID, CCC, PIN, PUK)" \
    drvs newpin=24681357 newpuk=86427531 -- issue "$T/ca.key" "$T/ca.crt"
"$BIN/drvtool" p11-list >"$T/plist"
check_grep "the card is listed as a PIV token" '^token slot=[0-9]+ kind=piv ' "$T/plist"
"$BIN/drvtool" --secrets-fd 3 p11-selftest >"$T/pst" 2>&1 3< <(secrets pin=24681357)
check_eq "post-issuance self-test passes" 0 $?
check_grep "all four keys checked" '^checked=4$' "$T/pst"
# Replace the 9a certificate by one for another key: the card must be refused.
openssl req -new -key "$T/k3.pem" -subj /CN=wrong -out "$T/wrong.csr" 2>/dev/null
ca_sign "$T/wrong.csr" "$T/wrong.crt"
drv write-cert 9a "$T/wrong.crt" >/dev/null
"$BIN/drvtool" --secrets-fd 3 p11-selftest >"$T/pst2" 2>&1 3< <(secrets pin=24681357)
check_eq "self-test refuses the card with a wrong certificate" 1 $?
check_grep "one key failed" '^failed=1$' "$T/pst2"
done_testing
