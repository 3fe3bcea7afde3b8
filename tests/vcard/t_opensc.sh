#!/bin/bash
# OpenSC 0.23 against the virtual card: detection as PIV, piv-tool admin
# authentication, key generation and certificate loading, PKCS#11 listing,
# login, signing (checked with openssl) and decryption, PIN tries.
. "$(dirname "$0")/vcenv.sh"

P11=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
check "card inserted" vcard_insert 0 "$T/c0.state" --create --trace "$T/trace"
R=$(reader_name 0)
Y() { yubico-piv-tool -r "$R" "$@"; }
ykm() { ykman --reader "$R" piv "$@"; }
p11() { pkcs11-tool --module "$P11" --slot-index 0 "$@"; }
pubder() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum; }

opensc-tool -l >list.txt 2>&1
check_grep "opensc-tool -l: card in reader 0" "^0 +Yes +$R\$" list.txt
check_grep "opensc-tool -a: T=1 ATR" '^3b:8c:81:31:fe:45' <(opensc-tool -r "$R" -a 2>&1)
check_eq "opensc-tool -n: a PIV card" "Personal Identity Verification Card" \
    "$(opensc-tool -r "$R" -n 2>/dev/null)"
# OpenSC's serial is the CHUID GUID; read the GUID independently with ykpiv.
guid=$(Y -a status 2>/dev/null | sed -n 's/^CHUID:.*3410\([0-9a-f]\{32\}\)35.*/\1/p')
serial=$(opensc-tool -r "$R" --serial 2>/dev/null | cut -c1-48 | tr -d ' ' | tr A-F a-f)
check_eq "opensc-tool --serial is the CHUID GUID" "$guid" "$serial"

# piv-tool reads the 9B key from the file PIV_EXT_AUTH_KEY names.
echo $MGM >mgm.hex
echo 0102030405060708010203040506070801020304050607FF >bad.hex
check "piv-tool -A M:9B:03 (mutual auth)" env PIV_EXT_AUTH_KEY=mgm.hex \
    piv-tool -r "$R" -A M:9B:03
check_fails "piv-tool with a wrong 9B key" env PIV_EXT_AUTH_KEY=bad.hex \
    piv-tool -r "$R" -A M:9B:03
# piv-tool 0.23 fails after the card answers both GENERATEs (its own
# OpenSSL 3 conversion of the returned key; PIV-NOTES). The key is on the card
# regardless: ykman reads it back through GET METADATA.
PIV_EXT_AUTH_KEY=mgm.hex piv-tool -r "$R" -A M:9B:03 -G 9A:07 -o pub9a.der >gen.txt 2>&1
echo "# piv-tool -G 9A:07 exit $? (client bug expected): $(tr '\n' ' ' <gen.txt)"
ykm keys export 9a pub9a.pem >/dev/null 2>&1
check_grep "9A holds an RSA-2048 key made by piv-tool -G" 'Public-Key: \(2048 bit\)' \
    <(openssl pkey -pubin -in pub9a.pem -text -noout 2>&1)
PIV_EXT_AUTH_KEY=mgm.hex piv-tool -r "$R" -A M:9B:03 -G 9C:11 -o /dev/null >gen.txt 2>&1
echo "# piv-tool -G 9C:11 exit $? (client bug expected): $(tr '\n' ' ' <gen.txt)"
ykm keys export 9c pub9c.pem >/dev/null 2>&1
check_grep "9C holds a P-256 key made by piv-tool -G" 'NIST CURVE: P-256' \
    <(openssl pkey -pubin -in pub9c.pem -text -noout 2>&1)
check "generate RSA-2048 in 9D (ykpiv)" Y -a generate -s 9d -A RSA2048 -o pub9d.pem

# Certificates: the card signs them (ykman); piv-tool loads 9A's.
for s in 9a 9c 9d; do
	ykm certificates generate -m $MGM -P 123456 -s "CN=opensc $s" "$s" "pub$s.pem" \
	    >/dev/null 2>&1
	ykm certificates export "$s" "cert$s.pem" >/dev/null 2>&1
done
openssl x509 -in cert9a.pem -outform DER -out cert9a.der
ykm certificates delete -m $MGM 9a >/dev/null 2>&1
# piv-tool 0.23 -C exits with the byte count of the object mod 256 (it
# returns the length of the PUT DATA as its error code); the effect counts.
PIV_EXT_AUTH_KEY=mgm.hex piv-tool -r "$R" -A M:9B:03 -C 9A -i cert9a.pem >load.txt 2>&1
echo "# piv-tool -C 9A exit $?: $(tr '\n' ' ' <load.txt)"
Y -a read-certificate -s 9a -o read9a.pem >/dev/null 2>&1
check_eq "ykpiv reads back the certificate piv-tool wrote" \
    "$(sha256sum <cert9a.der)" "$(openssl x509 -in read9a.pem -outform DER 2>/dev/null | sha256sum)"

p11 -L >L.txt 2>&1
check_grep "pkcs11-tool -L: token present" 'token manufacturer +: piv_II' L.txt
check_grep "pkcs11-tool -L: PIN initialized" 'PIN initialized' L.txt
p11 -O >O.txt 2>&1
check_grep "pkcs11-tool -O: 9A certificate" "label: +Certificate for PIV Authentication" O.txt
check_grep "pkcs11-tool -O: public key 02" 'ID: +02' O.txt
p11 -O -l -p 123456 >Opriv.txt 2>&1
check_grep "private key 01 after login" 'Private Key Object; RSA' Opriv.txt
check_grep "private key 02 (EC) after login" 'Private Key Object; EC' Opriv.txt

head -c 1000 /dev/urandom >data
check "pkcs11 RSA sign with 9A" p11 -l -p 123456 --sign --id 01 -m SHA256-RSA-PKCS \
    -i data -o sig01
check "openssl verifies the 9A signature" openssl dgst -sha256 \
    -verify <(openssl x509 -in cert9a.pem -pubkey -noout) -signature sig01 data
check "pkcs11 ECDSA sign with 9C (always-authenticate)" p11 -l -p 123456 --sign \
    --id 02 -m ECDSA-SHA256 --signature-format openssl -i data -o sig02
check "openssl verifies the 9C signature" openssl dgst -sha256 \
    -verify <(openssl x509 -in cert9c.pem -pubkey -noout) -signature sig02 data
head -c 32 /dev/urandom >secret
openssl pkeyutl -encrypt -pubin -inkey <(openssl x509 -in cert9d.pem -pubkey -noout) \
    -in secret -out secret.enc
check "pkcs11 RSA decrypt with 9D" p11 -l -p 123456 --decrypt --id 03 -m RSA-PKCS \
    -i secret.enc -o secret.dec
check_eq "decrypted what openssl encrypted" "$(sha256sum <secret)" "$(sha256sum <secret.dec)"

# ECDH: 9D becomes a P-256 key; OpenSC derives, openssl derives the same.
Y -a generate -s 9d -A ECCP256 -o pub9d-ec.pem >/dev/null 2>&1
ykm certificates generate -m $MGM -P 123456 -s "CN=opensc 9d ec" 9d pub9d-ec.pem >/dev/null 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key 2>/dev/null
openssl pkey -in peer.key -pubout -outform DER -out peer.der
check "pkcs11 ECDH derive with 9D" p11 -l -p 123456 --derive -m ECDH1-DERIVE --id 03 \
    -i peer.der -o ecdh.card
openssl pkeyutl -derive -inkey peer.key -peerkey pub9d-ec.pem -out ecdh.mine
check "the card's ECDH secret equals openssl's" cmp ecdh.card ecdh.mine

check_fails "pkcs11 login with a wrong PIN" p11 -l -p 000000 --sign --id 01 \
    -m SHA256-RSA-PKCS -i data -o /dev/null
check_grep "ykman then sees 2 PIN tries" '^PIN tries remaining: 2/3$' <(ykm info 2>&1)
p11 -l -p 999999 --sign --id 01 -m SHA256-RSA-PKCS -i data -o /dev/null >/dev/null 2>&1
p11 -L >L2.txt 2>&1
check_grep "pkcs11-tool -L: final try flag" 'final user PIN try' L2.txt
check "the right PIN still works and resets the counter" p11 -l -p 123456 --sign \
    --id 01 -m SHA256-RSA-PKCS -i data -o /dev/null
# (Not ykpiv status: the PIN stays verified across PC/SC sessions, as on a
# real card, so its empty VERIFY answers 9000 without a count.)
check_grep "back to 3 tries" '^PIN tries remaining: 3/3$' <(ykm info 2>&1)
# Retired key management slot 82, announced by the key history object
# (C1 = 1 on-card certificate): OpenSC shows it as ID 05 and decrypts with it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout old.key -subj /CN=old-enc \
    -out old.pem 2>/dev/null
Y -a import-key -s 82 -i old.key >/dev/null 2>&1
Y -a import-certificate -s 82 -i old.pem >/dev/null 2>&1
printf '\xc1\x01\x01\xc2\x01\x00\xfe\x00' >kh.bin
check "key history written" Y -a write-object --id 0x5fc10c -i kh.bin -f binary
check_grep "pkcs11-tool -O: retired key 1 (ID 05)" 'label: +Retired Certificate for Key Management 1' \
    <(p11 -O 2>&1)
openssl pkeyutl -encrypt -pubin -inkey <(openssl x509 -in old.pem -pubkey -noout) \
    -in secret -out old.enc
check "pkcs11 decrypt with the retired key" p11 -l -p 123456 --decrypt --id 05 \
    -m RSA-PKCS -i old.enc -o old.dec
check "retired key decrypted what openssl encrypted" cmp secret old.dec

# PIN management through PKCS#11 (CHANGE REFERENCE DATA, RESET RETRY COUNTER).
check "pkcs11-tool --change-pin" p11 --login --pin 123456 --change-pin --new-pin 97531864
check "ykpiv verifies the PIN OpenSC set" Y -a verify-pin -P 97531864
# (PKCS#11 cannot unblock a PIV PIN: its SO login would VERIFY the PUK,
# which SP 800-73-4 does not allow. OpenSC's pkcs15-tool can.)
check "pkcs15-tool --unblock-pin with the PUK" pkcs15-tool --reader "$R" \
    --unblock-pin --puk 12345678 --new-pin 11335577
check "ykpiv verifies the unblocked PIN" Y -a verify-pin -P 11335577
done_testing
