#!/bin/bash
# drivers/piv through drvtool against the virtual card; every effect is read
# back by a stock client (yubico-piv-tool, pkcs11-tool/OpenSC, ykman, openssl).
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@"
. "$TOP/tests/drivers/lib.sh"
opensc_private
make_ca
vcard_insert 0 "$T/card.state" --create --serial 1234 >/dev/null
echo hello-drivers >"$T/msg"

# --- identification
drv identify >"$T/id"
check_grep "identify: PIV with Yubico extensions" '^type=piv-yubico$' "$T/id"
check_grep "identify: serial from F8" '^serial=1234$' "$T/id"
check_grep "identify: version from FD matches yubico-piv-tool" \
    "^version=$(ypt -a version | sed -n 's/^Application version \([0-9.]*\) found.*/\1/p')\$" "$T/id"
guid=$(sed -n 's/^guid=//p' "$T/id")
check_grep "identify: CHUID GUID is the one yubico-piv-tool reads" "3410$guid" \
    <(ypt -a status)
drv read-discovery >"$T/disc"
check_grep "discovery AID" '^aid=a000000308000010000100$' "$T/disc"
check_grep "discovery PIN policy" '^pin_policy=4000$' "$T/disc"

# --- PIN status and VERIFY
check_grep "empty VERIFY: not verified, 3 tries" '^tries=3$' <(drv pin-status)
check_fails "wrong PIN refused" drvs pin=000000 -- verify
check_grep "wrong PIN: 2 tries left, seen by yubico-piv-tool" 'PIN tries left:[[:space:]]*2' \
    <(ypt -a status)
check "right PIN verifies (resets the counter)" drvs pin=123456 -- verify
check_grep "counter back to 3" 'PIN tries left:[[:space:]]*3' <(ypt -a status)

# --- keys, CSR, certificates; read back by OpenSC and openssl
check "generate 9a RSA-2048" drv -o "$T/9a.pub" generate 9a rsa2048
check "CSR for 9a signed on the card" drvs pin=123456 -- -o "$T/9a.csr" csr 9a CN=alice
check "openssl req -verify accepts the 9a CSR" openssl req -in "$T/9a.csr" -verify -noout
check_eq "CSR public key is the generated one" "$(openssl pkey -pubin -in "$T/9a.pub")" \
    "$(openssl req -in "$T/9a.csr" -pubkey -noout)"
ca_sign "$T/9a.csr" "$T/9a.crt"
check "write 9a certificate" drv write-cert 9a "$T/9a.crt"
ypt -a read-certificate -s 9a >"$T/9a.back"
check_eq "yubico-piv-tool reads back the same certificate" \
    "$(openssl x509 -in "$T/9a.crt" -outform der | sha256sum)" \
    "$(openssl x509 -in "$T/9a.back" -outform der | sha256sum)"
check "pkcs11-tool signs with the 9a key (OpenSC)" p11tool --login --pin 123456 \
    --sign --id 01 -m SHA256-RSA-PKCS -i "$T/msg" -o "$T/msg.p11sig"
check "openssl verifies the OpenSC signature with the certificate" \
    openssl dgst -sha256 -verify <(openssl x509 -in "$T/9a.crt" -pubkey -noout) \
    -signature "$T/msg.p11sig" "$T/msg"
check "drvtool signs PKCS#1 v1.5 with 9a" drvs pin=123456 -- -o "$T/s1" sign 9a "$T/msg"
check "openssl verifies it" openssl dgst -sha256 -verify "$T/9a.pub" -signature "$T/s1" "$T/msg"
check "drvtool signs PSS with 9a" drvs pin=123456 -- -S -o "$T/s2" sign 9a "$T/msg"
check "openssl verifies the PSS signature" openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$T/9a.pub" -signature "$T/s2" "$T/msg"

# Functions rather than sh -c: the PIN goes to drvtool's --secrets-fd and
# appears on no command line.
csr_verifies() {	# slot
	drvs pin=123456 -- -o "$T/$1.csr" csr "$1" "CN=$1" &&
	    openssl req -in "$T/$1.csr" -verify -noout
}
sig_verifies() {	# slot sigfile pubfile [drvtool options]: sign $T/msg, verify
	local slot=$1 sig=$2 pub=$3; shift 3
	drvs pin=123456 -- "$@" -o "$sig" sign "$slot" "$T/msg" &&
	    openssl dgst -sha256 -verify "$pub" -signature "$sig" "$T/msg"
}
for spec in 9c:p256 9d:p384 9e:rsa3072 82:p256; do
	slot=${spec%:*} alg=${spec#*:}
	check "generate $slot $alg" drv -o "$T/$slot.pub" generate "$slot" "$alg"
	check "CSR $slot verifies" csr_verifies "$slot"
	ca_sign "$T/$slot.csr" "$T/$slot.crt"
	check "write $slot certificate compressed" drv -z write-cert "$slot" "$T/$slot.crt"
	check_eq "$slot certificate reads back decompressed (drvtool)" \
	    "$(openssl x509 -in "$T/$slot.crt" -outform der | sha256sum)" \
	    "$(drv read-cert "$slot" | openssl x509 -outform der | sha256sum)"
done
check_eq "OpenSC inflates the compressed 9c certificate" \
    "$(openssl x509 -in "$T/9c.crt" -outform der | sha256sum)" \
    "$(p11tool --read-object --type cert --id 02 2>/dev/null | sha256sum)"
check "ECDSA P-256 signature from 9c verifies" sig_verifies 9c "$T/s3" "$T/9c.pub"
check "ECDSA P-384 signature from 9d verifies" sig_verifies 9d "$T/s4" "$T/9d.pub"
check "pkcs11-tool signs with the 9c P-256 key (compressed cert, OpenSC)" p11tool --login \
    --pin 123456 --sign --id 02 -m ECDSA-SHA256 --signature-format openssl -i "$T/msg" \
    -o "$T/s5"
check "openssl verifies the OpenSC ECDSA signature" openssl dgst -sha256 -verify "$T/9c.pub" \
    -signature "$T/s5" "$T/msg"
check "drvtool signs with the 9e RSA-3072 key" sh -c "'$BIN/drvtool' -r '$R' -o '$T/s10' sign 9e '$T/msg' &&
    openssl dgst -sha256 -verify '$T/9e.pub' -signature '$T/s10' '$T/msg'"
check "pkcs11-tool signs with the 9e RSA-3072 key (compressed cert, OpenSC)" p11tool --login --pin 123456 \
    --sign --id 04 -m SHA256-RSA-PKCS -i "$T/msg" -o "$T/s6"
check "openssl verifies the OpenSC RSA-3072 signature" openssl dgst -sha256 -verify \
    "$T/9e.pub" -signature "$T/s6" "$T/msg"

# --- extended-length APDUs (no chaining, no GET RESPONSE) against the same card
check "write 9e certificate with extended APDUs" drv -X -s write-cert 9e "$T/9e.crt"
check_eq "read back with extended APDUs" \
    "$(openssl x509 -in "$T/9e.crt" -outform der | sha256sum)" \
    "$(drv -X read-cert 9e | openssl x509 -outform der | sha256sum)"
check_eq "and with short APDUs" \
    "$(openssl x509 -in "$T/9e.crt" -outform der | sha256sum)" \
    "$(drv read-cert 9e | openssl x509 -outform der | sha256sum)"
x=$(drv -X -s read-cert 9e | sed -n 's/^stats apdus=\([0-9]*\) .*/\1/p')
s=$(drv -s read-cert 9e | sed -n 's/^stats apdus=\([0-9]*\) .*/\1/p')
[ -n "$x" ] && [ -n "$s" ] && [ "$x" -lt "$s" ] && ok "extended read takes fewer APDUs ($x < $s)" ||
    not_ok "extended read: $x APDUs, short: $s"

# --- metadata and attestation
drv metadata 9e >"$T/meta"
check_grep "metadata: algorithm" '^alg=RSA-3072$' "$T/meta"
check_grep "metadata: generated on card" '^origin=1$' "$T/meta"
check_eq "ykman exports the same 9c public key (F7 path)" \
    "$(openssl pkey -pubin -in "$T/9c.pub")" \
    "$(ykman --reader "$R" piv keys export 9c - 2>/dev/null)"
check "attest 9c" drv -o "$T/9c.att" attest 9c
check_eq "attested key is the 9c key" "$(openssl pkey -pubin -in "$T/9c.pub")" \
    "$(openssl x509 -in "$T/9c.att" -pubkey -noout)"
ypt -a read-certificate -s f9 >"$T/f9.crt"
check "attestation chains to the card's F9 certificate" \
    openssl verify -partial_chain -CAfile "$T/f9.crt" "$T/9c.att"

# --- CHUID, CCC, key history, printed information, deletion
check "write CHUID with fresh GUID" sh -c "'$BIN/drvtool' -r '$R' write-chuid 70999999123456111234567890112341 20301231 >'$T/chuid'"
nguid=$(sed -n 's/^guid=//p' "$T/chuid")
[ "$nguid" != "$guid" ] && ok "new GUID differs from the old one" || not_ok "GUID reused"
check_grep "yubico-piv-tool sees the new GUID and expiry" "3410${nguid}3508323033303132333" \
    <(ypt -a status)
check_grep "FASC-N decodes back" '^fascn=70999999123456111234567890112341$' <(drv read-chuid)
ccc_before=$(ypt -a status | sed -n 's/^CCC:[[:space:]]*//p')
check "write CCC" drv write-ccc
ccc_after=$(ypt -a status | sed -n 's/^CCC:[[:space:]]*//p')
[ -n "$ccc_after" ] && [ "$ccc_after" != "$ccc_before" ] && ok "CCC changed (fresh card id)" \
    || not_ok "CCC unchanged"
check_grep "our CCC reader agrees with yubico-piv-tool" "^card_id=${ccc_after:4:42}\$" \
    <(drv read-ccc)
check "write key history (1 on card)" drv write-keyhist 1 0
check_eq "key history bytes as yubico-piv-tool reads them" "c1 01 01 c2 01 00 fe 00" \
    "$(ypt -a read-object --id 0x5fc10c -f binary | od -An -tx1 | xargs)"
printf '\x01\x09DOE, JANE\x02\x08Employee\xfe\x00' >"$T/printed"
ypt -a write-object --id 0x5fc109 -f binary -i "$T/printed" >/dev/null 2>&1
check_fails "printed information needs the PIN" drv read-printed
check_grep "printed information read after VERIFY" '^name=DOE, JANE$' <(drvs pin=123456 -- read-printed)
check "delete 82 certificate" drv delete-cert 82
check_fails "yubico-piv-tool no longer finds it" ypt -a read-certificate -s 82

# --- management key: AES-192 then back to 3DES
AESK=000102030405060708090a0b0c0d0e0f1011121314151617
check "set AES-192 management key" drvs newmgmt=aes192:$AESK -- set-mgmt
check_fails "default key no longer authenticates" drv auth
check "ykman authenticates with the new AES key" ykman --reader "$R" piv objects generate \
    --management-key $AESK ccc
check "drvtool authenticates AES-192" drvs mgmt=aes192:$AESK -- auth
A128=00112233445566778899aabbccddeeff
A256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
check "set AES-128 management key" drvs mgmt=aes192:$AESK newmgmt=aes128:$A128 -- set-mgmt
check "ykman authenticates with AES-128" ykman --reader "$R" piv objects generate \
    --management-key $A128 ccc
check "set AES-256 management key" drvs mgmt=aes128:$A128 newmgmt=aes256:$A256 -- set-mgmt
check "ykman authenticates with AES-256" ykman --reader "$R" piv objects generate \
    --management-key $A256 ccc
check_fails "AES-128 key no longer works" drvs mgmt=aes128:$A128 -- auth
DESK=0123456789abcdef23456789abcdef01456789abcdef0123
check "set a 3DES management key" drvs mgmt=aes256:$A256 newmgmt=3des:$DESK -- set-mgmt
check "yubico-piv-tool authenticates with it (set-ccc)" ypt --key=$DESK -a set-ccc
check_fails "the AES key is gone" drvs mgmt=aes192:$AESK -- auth
check "back to the default 3DES key" drvs mgmt=3des:$DESK \
    newmgmt=3des:010203040506070801020304050607080102030405060708 -- set-mgmt

# --- IMPORT an escrowed key into 9d
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/esc.key" 2>/dev/null
check "import escrowed P-256 key into 9d" drv import 9d "$T/esc.key"
check_eq "ykman sees the imported public key" "$(openssl pkey -in "$T/esc.key" -pubout)" \
    "$(ykman --reader "$R" piv keys export 9d - 2>/dev/null)"
check_grep "metadata origin: imported" '^origin=2$' <(drv metadata 9d)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/esc2.key" 2>/dev/null
check "import escrowed RSA-2048 key into retired slot 83" drv import 83 "$T/esc2.key"
check_eq "ykman sees the imported RSA key in 83" "$(openssl pkey -in "$T/esc2.key" -pubout)" \
    "$(ykman --reader "$R" piv keys export 83 - 2>/dev/null)"
openssl pkey -in "$T/esc2.key" -pubout -out "$T/esc2.pub"
check "the card signs with the imported RSA key" sig_verifies 83 "$T/s7" "$T/esc2.pub" \
    -P "$T/esc2.pub"

# --- PIN policy on GENERATE, enforced by the card
check "generate 84 with PIN policy never" drv --pin-policy 1 --touch-policy 1 -o "$T/84.pub" \
    generate 84 p256
check_grep "metadata: PIN policy never" '^pin_policy=1$' <(drv metadata 84)
check "84 signs without any VERIFY" sh -c "'$BIN/drvtool' -r '$R' -P '$T/84.pub' -o '$T/s8' sign 84 '$T/msg' &&
    openssl dgst -sha256 -verify '$T/84.pub' -signature '$T/s8' '$T/msg'"
check "generate 85 with PIN policy always" drv --pin-policy 3 -o "$T/85.pub" generate 85 p256
check_grep "metadata: PIN policy always" '^pin_policy=3$' <(drv metadata 85)
drv -P "$T/85.pub" -o "$T/s9" sign 85 "$T/msg" >"$T/nopin" 2>&1
check_grep "85 refuses to sign without VERIFY" 'PIV_ERR_AUTH_REQUIRED' "$T/nopin"


# --- PIN/PUK change, unblock, retries, reset
check "change PIN" drvs old=123456 new=24681357 -- change-pin
check "yubico-piv-tool verifies the new PIN" ypt -a verify-pin -P 24681357
check "change PUK" drvs old=12345678 new=87654321 -- change-puk
for i in 1 2 3; do ypt -a verify-pin -P 11111111 >/dev/null 2>&1; done
check_grep "PIN blocked" '^tries=0$' <(drv pin-status)
check_fails "wrong PUK refused" drvs puk=12345678 newpin=13572468 -- unblock
check "unblock with the new PUK" drvs puk=87654321 newpin=13572468 -- unblock
check "yubico-piv-tool verifies the unblocked PIN" ypt -a verify-pin -P 13572468
check "set retries 5/4" drvs pin=13572468 -- set-retries 5 4
check_grep "yubico-piv-tool: 5 PIN tries" 'PIN tries left:[[:space:]]*5' <(ypt -a status)
check_fails "reset refused while PIN and PUK work" drv reset
for i in 1 2 3 4 5; do ypt -a verify-pin -P 99999999 >/dev/null 2>&1; done
for i in 1 2 3 4; do ypt -a unblock-pin -P 99999999 -N 11112222 >/dev/null 2>&1; done
check "reset after blocking PIN and PUK" drv reset
check "yubico-piv-tool verifies the default PIN after reset" ypt -a verify-pin -P 123456
check_fails "the 9a certificate is gone" ypt -a read-certificate -s 9a
check "default management key works again" drv auth
done_testing
