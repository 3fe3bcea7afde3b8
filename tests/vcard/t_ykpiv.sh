#!/bin/bash
# yubico-piv-tool 2.2.0 against the virtual card: status, key generation,
# certificates, PIN/PUK life, management key, reset, PIN retries, attestation.
# Effects are checked through a second path: ykman, openssl, or reading back.
. "$(dirname "$0")/vcenv.sh"

NEWMGM=0F0E0D0C0B0A09080706050403020100F0E0D0C0B0A09080
check "manufacturer CA made by vcard --init-ca" "$BIN/vcard" --init-ca "$T/ca"
check "card inserted" vcard_insert 0 "$T/c0.state" --create --serial 11223344 \
    --attest-ca "$T/ca/ca.key:$T/ca/ca.pem" --trace "$T/trace"
R=$(reader_name 0)
Y() { yubico-piv-tool -r "$R" "$@"; }
ykm() { ykman --reader "$R" piv "$@"; }

Y -a status >status.txt 2>&1
check_grep "status: serial" '^Serial Number:[[:space:]]+11223344$' status.txt
check_grep "status: version 5.4.3" '^Version:[[:space:]]+5\.4\.3$' status.txt
check_grep "status: 3 PIN tries" '^PIN tries left:[[:space:]]+3$' status.txt
check_grep "status: CHUID present" '^CHUID:[[:space:]]+3019' status.txt

# Key generation; ykman reads the same public key back through GET METADATA.
for spec in 9a:RSA2048 9c:ECCP256 9d:ECCP384; do
	s=${spec%%:*} a=${spec#*:}
	check "generate $a in $s" Y -a generate -s "$s" -A "$a" -o "pub$s.pem"
	ykm keys export "$s" "exp$s.pem" >/dev/null 2>&1
	check_eq "ykman exports the same $s public key" \
	    "$(openssl pkey -pubin -in "pub$s.pem" -outform DER | sha256sum)" \
	    "$(openssl pkey -pubin -in "exp$s.pem" -outform DER 2>/dev/null | sha256sum)"
done

# Certificates. yubico-piv-tool 2.2.0 cannot self-sign with OpenSSL 3
# (Yubico/yubico-piv-tool#388: fails before sending anything), so the card
# signs its certificates through ykman; yubico-piv-tool imports them.
for s in 9a 9c; do
	ykm certificates generate -m $MGM -P 123456 -s "CN=ykpiv $s" "$s" "pub$s.pem" \
	    >/dev/null 2>&1
	ykm certificates export "$s" "cert$s.pem" >/dev/null 2>&1
	check "self-signed $s certificate verifies with openssl" \
	    openssl verify -check_ss_sig -partial_chain -CAfile "cert$s.pem" "cert$s.pem"
	check "import-certificate $s" Y -a import-certificate -s "$s" -i "cert$s.pem"
	Y -a read-certificate -s "$s" -o "read$s.pem" >/dev/null 2>&1
	check_eq "read-certificate $s returns it" "$(sha256sum <"cert$s.pem")" \
	    "$(sha256sum <"read$s.pem" 2>/dev/null)"
	check "test-signature $s (ykpiv verifies with the certificate)" \
	    Y -a verify-pin -P 123456 -a test-signature -s "$s" -i "cert$s.pem"
done

# Objects: delete-certificate is PUT DATA 53 00; set-chuid gives a new GUID
# (OpenSC's token serial); write-object/read-object round trip.
check "delete-certificate 9c" Y -a delete-certificate -s 9c
check_fails "the 9c certificate is gone" Y -a read-certificate -s 9c -o /dev/null
guid1=$(opensc-tool -r "$R" --serial 2>/dev/null)
check "set-chuid" Y -a set-chuid
guid2=$(opensc-tool -r "$R" --serial 2>/dev/null)
check "OpenSC serial follows the new CHUID" test -n "$guid2" -a "$guid1" != "$guid2"
head -c 2000 /dev/urandom >blob
check "write-object 5fc10d (2000 bytes)" Y -a write-object --id 0x5fc10d -i blob -f binary
Y -a read-object --id 0x5fc10d -o blob.back -f binary >/dev/null 2>&1
check "read-object returns it" cmp blob blob.back

# PIN, PUK.
check "verify-pin" Y -a verify-pin -P 123456
Y -a verify-pin -P 000000 >out.txt 2>&1
check_grep "wrong PIN: 2 tries left" '2 tries left' out.txt
check_eq "ykman sees 2 PIN tries" "2/3" \
    "$(ykm info 2>/dev/null | sed -n 's/^PIN tries remaining: //p')"
check "change-pin" Y -a change-pin -P 123456 -N 24681357
check_fails "old PIN refused" Y -a verify-pin -P 123456
check "new PIN accepted" Y -a verify-pin -P 24681357
check "unblock-pin with the PUK" Y -a unblock-pin -P 12345678 -N 11223344
check "unblocked PIN works" Y -a verify-pin -P 11223344
check "change-puk" Y -a change-puk -P 12345678 -N 87654321
check_fails "old PUK refused" Y -a unblock-pin -P 12345678 -N 11223344
check "new PUK works" Y -a unblock-pin -P 87654321 -N 11223344

# Management key (2.2.0 only knows 3DES; AES is tested through ykman).
check "set-mgm-key" Y -a set-mgm-key -n $NEWMGM
check_fails "old management key refused" Y -a generate -s 9e -A ECCP256 -o /dev/null
check "new management key works" Y -k$NEWMGM -a generate -s 9e -A ECCP256 -o pub9e.pem
check "set-mgm-key back to default" Y -k$NEWMGM -a set-mgm-key -n $MGM

# Attestation: leaf <- F9 <- manufacturer CA.
check "attest 9c" Y -a attest -s 9c -o att9c.pem
check "read F9 certificate" Y -a read-certificate -s f9 -o f9.pem
check "attestation chains to the manufacturer CA" \
    openssl verify -CAfile "$T/ca/ca.pem" -untrusted f9.pem att9c.pem
check_eq "attested key is the 9c key" \
    "$(openssl pkey -pubin -in pub9c.pem -outform DER | sha256sum)" \
    "$(openssl x509 -in att9c.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout imp.key \
    -subj /CN=imported -out imp.pem 2>/dev/null
check "import-key into 9e" Y -a import-key -s 9e -i imp.key
check_fails "imported keys are not attested" Y -a attest -s 9e -o /dev/null

# RSA import (CRT parts, chained) with a certificate made from the same key
# file: ykpiv then decrypts and signs on the card and checks with the cert.
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -subj /CN=rsa-import \
    -out rsa.pem 2>/dev/null
check "import-key RSA2048 into 82" Y -a import-key -s 82 -i rsa.key
check "import-certificate 82" Y -a import-certificate -s 82 -i rsa.pem
check "test-decipher 82" Y -a verify-pin -P 11223344 -a test-decipher -s 82 -i rsa.pem
check "test-signature 82" Y -a verify-pin -P 11223344 -a test-signature -s 82 -i rsa.pem

# PIN retries (needs 9B and the PIN; PIN and PUK go back to factory values).
check "pin-retries 5/4" Y -a verify-pin -P 11223344 -a pin-retries --pin-retries 5 --puk-retries 4
check_eq "ykman sees 5 PIN tries" "5/5" \
    "$(ykm info 2>/dev/null | sed -n 's/^PIN tries remaining: //p')"
check "factory PIN after pin-retries" Y -a verify-pin -P 123456

# Reset: refused until PIN and PUK are both blocked.
check_fails "reset refused while PIN/PUK usable" Y -a reset
for i in 1 2 3 4 5; do Y -a verify-pin -P 999999 >/dev/null 2>&1; done
check_fails "reset refused with only the PIN blocked" Y -a reset
for i in 1 2 3 4; do Y -a unblock-pin -P 00000000 -N 999999 >/dev/null 2>&1; done
Y -a verify-pin -P 123456 >out.txt 2>&1
check_grep "PIN reported blocked" 'blocked' out.txt
check "reset" Y -a reset
check "factory PIN after reset" Y -a verify-pin -P 123456
check_fails "certificates gone after reset" Y -a read-certificate -s 9a -o /dev/null
ykm info >info.txt 2>&1
check_grep "ykman: default PIN again" 'Using default PIN' info.txt
check_grep "ykman: 3 tries again" 'PIN tries remaining: 3/3' info.txt
check_fails "trace has no PIN in clear" grep -q '313233343536' "$T/trace"
check_fails "trace has no management key in clear" grep -qi "$NEWMGM" "$T/trace"
done_testing
