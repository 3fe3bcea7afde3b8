#!/bin/bash
# ykman 4.0.9 against the virtual card (extended APDUs, GET METADATA):
# the YubiKey management application (ykman info, libykpiv's PIN-retries
# query), info, PIN/PUK, key generation and certificates, attestation, management
# keys of every algorithm incl. PIN-protected, retries, reset.
# Effects are checked with yubico-piv-tool and openssl.
. "$(dirname "$0")/vcenv.sh"

AES128=00112233445566778899AABBCCDDEEFF
AES256=000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F
SERIAL=31415926
check "card inserted" vcard_insert 0 "$T/c0.state" --create --serial $SERIAL \
    --trace "$T/trace"
R=$(reader_name 0)
Y() { yubico-piv-tool -r "$R" "$@"; }
ykm() { ykman --reader "$R" piv "$@"; }
pubder() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum; }

# ykman info reads the management application (SELECT A000000527471117, READ
# CONFIG); it must describe the device the PIV application is: same serial as
# GET SERIAL (yubico-piv-tool), same firmware as GET VERSION (ykman piv info).
ykman --reader "$R" info >dev.txt 2>&1
sed 's/^/#   /' dev.txt
Y -a status >status.txt 2>&1
ykm info >info.txt 2>&1
check_eq "ykpiv reads the serial the card was made with" "$SERIAL" \
    "$(sed -n 's/^Serial Number:[[:space:]]*//p' status.txt)"
check_grep "info: a YubiKey 5, not a NEO" '^Device type: YubiKey 5' dev.txt
check_eq "info: serial = ykpiv's GET SERIAL" \
    "$(sed -n 's/^Serial Number:[[:space:]]*//p' status.txt)" \
    "$(sed -n 's/^Serial number: //p' dev.txt)"
check_eq "info: firmware = ykman piv info's PIV version" \
    "$(sed -n 's/^PIV version: //p' info.txt)" \
    "$(sed -n 's/^Firmware version: //p' dev.txt)"
check_eq "info: firmware = ykpiv's version" \
    "$(sed -n 's/^Version:[[:space:]]*//p' status.txt)" \
    "$(sed -n 's/^Firmware version: //p' dev.txt)"
check_grep "info: PIV enabled over USB" '^PIV[[:space:]]+Enabled' dev.txt
check_grep "info: OTP (not on this card) disabled over USB" '^OTP[[:space:]]+Disabled' dev.txt

# libykpiv's ykpiv_get_pin_retries "deauthenticates" by selecting the management
# application, then re-selects PIV and sends an empty VERIFY. No stock tool of
# 2.2.0 calls it (yubico-piv-tool -a reset sends only FB), so call the library.
ykpiv_retries() {
	python3 - "$R" "$@" <<'PY'
import ctypes, sys
lib = ctypes.CDLL("libykpiv.so.2")
st = ctypes.c_void_p()
tries = ctypes.c_int(0)
assert lib.ykpiv_init(ctypes.byref(st), 0) == 0
assert lib.ykpiv_connect(st, sys.argv[1].encode()) == 0, "connect"
for pin in sys.argv[2:]:
    lib.ykpiv_verify(st, pin.encode(), ctypes.byref(tries))
tries.value = 0
rc = lib.ykpiv_get_pin_retries(st, ctypes.byref(tries))
# An empty VERIFY afterwards: 63Cx (-10, not verified) unless the PIN survived.
left = ctypes.c_int(0)
vrc = lib.ykpiv_verify(st, None, ctypes.byref(left))
print(f"rc={rc} tries={tries.value} verify={vrc}")
lib.ykpiv_done(st)
PY
}
check_eq "ykpiv_get_pin_retries after a good PIN: 3, and the PIN is forgotten" \
    "rc=0 tries=3 verify=-10" "$(ykpiv_retries 123456 2>&1)"
check_eq "ykpiv_get_pin_retries after a wrong PIN: 2" \
    "rc=0 tries=2 verify=-10" "$(ykpiv_retries 654321 2>&1)"
check "a good PIN restores the counter" Y -a verify-pin -P 123456

ykm info >info.txt 2>&1
check_grep "info: PIV version 5.4.3" '^PIV version: 5\.4\.3$' info.txt
check_grep "info: default PIN warning" 'Using default PIN' info.txt
check_grep "info: 3/3 tries" '^PIN tries remaining: 3/3$' info.txt
check_grep "info: TDES management key" '^Management key algorithm: TDES$' info.txt
check_grep "ykman used extended APDUs" '^> cla=00 ins=.* body=0000' "$T/trace"

check "change-pin" ykm access change-pin -P 123456 -n 13572468
check "ykpiv verifies the new PIN" Y -a verify-pin -P 13572468
check "change-puk" ykm access change-puk -p 12345678 -n 24681357
check "ykpiv unblocks with the new PUK" Y -a unblock-pin -P 24681357 -N 13572468

check "keys generate ECCP256 9a" ykm keys generate -m $MGM -a ECCP256 9a pub9a.pem
check "certificates generate 9a (signed on the card)" ykm certificates generate \
    -m $MGM -P 13572468 -s "CN=ykman 9a" 9a pub9a.pem
Y -a read-certificate -s 9a -o cert9a.pem >/dev/null 2>&1
check "ykpiv reads a certificate openssl verifies" \
    openssl verify -check_ss_sig -partial_chain -CAfile cert9a.pem cert9a.pem
check_eq "certificate holds the generated key" "$(pubder pub9a.pem)" \
    "$(openssl x509 -in cert9a.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum)"
ykm info >info.txt 2>&1
check_grep "info lists slot 9A" 'Slot 9a:' info.txt
check "keys generate RSA2048 9d, PIN never, touch always" ykm keys generate -m $MGM \
    -a RSA2048 --pin-policy NEVER --touch-policy ALWAYS 9d pub9d.pem
check "keys attest 9d" ykm keys attest 9d att9d.pem
check "certificates export f9" ykm certificates export f9 f9.pem
check "attestation verifies under the F9 certificate (self-signed here)" \
    openssl verify -CAfile f9.pem att9d.pem
# Yubico policy extension 1.3.6.1.4.1.41482.3.8 = OCTET STRING { 01 (PIN never), 02 (touch always) }.
check_grep "attestation records PIN never, touch always" '060a2b0601040182c40a030804020102' \
    <(openssl x509 -in att9d.pem -outform DER | od -An -tx1 -v | tr -d ' \n'; echo)

# IMPORT KEY through ykman (one extended APDU, no chaining).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out imp384.key 2>/dev/null
openssl pkey -in imp384.key -pubout -out imp384.pub
check "keys import P-384 into 9c" ykm keys import -m $MGM 9c imp384.key
ykm keys export 9c exp9c.pem >/dev/null 2>&1
check_eq "the card holds the imported public key" "$(pubder imp384.pub)" "$(pubder exp9c.pem)"
check_fails "imported key cannot be attested" ykm keys attest 9c /dev/null

# Management keys: AES128, then AES256, then PIN-protected AES192.
check "change-management-key to AES128" ykm access change-management-key -m $MGM \
    -a AES128 -n $AES128
check_grep "info: AES128" '^Management key algorithm: AES128$' <(ykm info 2>&1)
check_fails "ykpiv with the old 3DES key is refused" Y -a generate -s 9e -A ECCP256 -o /dev/null
check "AES128 key authenticates" ykm keys generate -m $AES128 -a ECCP384 9e pub9e.pem
check "change-management-key to AES256" ykm access change-management-key -m $AES128 \
    -a AES256 -n $AES256
check "AES256 key authenticates" ykm keys generate -m $AES256 -a ECCP256 82 pub82.pem
check "PIN-protected AES192 key" ykm access change-management-key -m $AES256 \
    -a AES192 -p -P 13572468
check_grep "info: AES192, PIN-protected" 'Management key is stored on the YubiKey, protected by PIN' \
    <(ykm info 2>&1)
check "ykman fetches the protected key with the PIN" ykm keys generate -P 13572468 \
    -a ECCP256 83 pub83.pem
ykm keys export 83 exp83.pem >/dev/null 2>&1
check_eq "slot 83 holds what was generated" "$(pubder pub83.pem)" "$(pubder exp83.pem)"

check "set-retries 6/5" ykm access set-retries 6 5 -P 13572468 -f
check_grep "info: 6/6 tries" '^PIN tries remaining: 6/6$' <(ykm info 2>&1)
check "factory PIN after set-retries (ykpiv)" Y -a verify-pin -P 123456

check "reset (ykman blocks PIN and PUK itself)" ykm reset -f
ykm info >info.txt 2>&1
check_grep "after reset: default PIN" 'Using default PIN' info.txt
check_grep "after reset: TDES default key" '^Management key algorithm: TDES$' info.txt
check_fails "after reset: no key in 9a" ykm keys export 9a /dev/null
# ykman reads GET METADATA first: an empty slot must be 6A88 as on a YubiKey, or
# ykman dies with a Python traceback instead of saying the slot is empty.
ykm keys export 9a /dev/null >export9a.txt 2>&1
sed 's/^/#   /' export9a.txt
check_fails "empty slot: ykman reports it, no Python traceback" grep -q Traceback export9a.txt
check "after reset: factory 3DES key works for ykpiv" Y -a generate -s 9a -A ECCP256 -o /dev/null
done_testing
