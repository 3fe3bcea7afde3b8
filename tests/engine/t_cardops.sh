#!/bin/bash
# The engine's card sequence (cardmgr/engine/cardops.c) through cops_tool, each
# effect read back by stock clients: yubico-piv-tool authenticates with the
# diversified 9B key recomputed here by `openssl mac`, OpenSC logs in with the
# holder's PIN and signs, openssl verifies the certificates' keys.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
PCSCENV_READERS=8	# the self-test must find its card behind any of 8 readers
pcscenv_init "$0" "$@"
. "$TOP/tests/drivers/lib.sh"
opensc_private
make_ca
vcard_insert 0 "$T/card.state" --create >/dev/null
export LSAN_OPTIONS=suppressions=$TOP/tests/drivers/lsan.supp:fast_unwind_on_malloc=0
cops() { "$BIN/cops_tool" -r "$R" -k "$T/ca.key" -c "$T/ca.crt" "$@"; }
KEY_HEX=$(printf 'cops-tool-test-master-key-000001' | od -An -tx1 | tr -d ' \n')
derive() {	# label guid-hex -> HMAC-SHA256 hex
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n' >"$T/lbl"
	printf '%s%s' "$(cat "$T/lbl")" "$2" | xxd -r -p |
	    openssl mac -digest SHA256 -macopt "hexkey:$KEY_HEX" HMAC | tr 'A-F' 'a-f'
}
puk_of() {	# guid -> the 8 digits cops_tool derives
	local h i d out=""
	h=$(derive puk "$1")
	for ((i = 0; i < 8; i++)); do
		d=$((16#${h:$((2 * i)):2} % 10)); out+=$d
	done
	echo "$out"
}

check_grep "a factory card is blank" '^blank=1$' <(cops blank)
echo 246810 | COPS_ESCROW_OUT=$T/escrow.pub cops issue >"$T/issue" 2>"$T/issue.err"
check "issue succeeds" test $? = 0
guid=$(sed -n 's/^guid=//p' "$T/issue")
check_grep "issue went through every step to pin_puk:done" '^step=pin_puk:done$' "$T/issue"
check_grep "the new GUID is the CHUID yubico-piv-tool reads" "3410$guid" <(ypt -a status)
mk=$(derive mgmt "$guid" | cut -c1-48)
check "ykman authenticates with the recomputed diversified AES-192 key" \
    ykman --reader "$R" piv access change-management-key -a AES192 -m "$mk" -n "$mk" -f
check_fails "the factory 9B key no longer works" ypt -a set-mgm-key -n 010203040506070801020304050607080102030405060708
check_grep "no longer blank" '^blank=0$' <(cops blank)
for s in 9a 9c 9d 9e; do
	ypt -a read-certificate -s $s >"$T/$s.crt" 2>/dev/null
	check "slot $s holds a certificate from the CA" openssl verify -CAfile "$T/ca.crt" "$T/$s.crt"
done
check_eq "9d holds the escrowed key (the one the escrow hook made)" \
    "$(openssl pkey -pubin -in "$T/escrow.pub")" "$(openssl x509 -in "$T/9d.crt" -pubkey -noout)"
check "OpenSC logs in with the holder's PIN and signs with 9a" p11tool --login --pin 246810 \
    --sign --id 01 -m ECDSA-SHA256 -i "$T/issue" -o "$T/sig"
check "PKCS#11 self-test through OpenSC passes" sh -c "echo 246810 | '$BIN/cops_tool' -r '$R' selftest"
# The station's self-test helper (what cardmgrd runs) finds the card in any
# of 8 full readers: OpenSC's default 16 virtual slots at 4 per card hid
# every reader after the fourth, and half of 8 parallel issuances failed.
for i in 1 2 3 4 5 6 7; do vcard_insert "$i" "$T/blank$i.state" --create >/dev/null; done
p=0	# the issued card's reader; a swap moves reader i's blank card to p
found=0
for i in 0 1 2 3 4 5 6 7; do
	if [ "$i" != "$p" ]; then
		vcard_remove "$i"; vcard_remove "$p"
		vcard_insert "$i" "$T/card.state" >/dev/null
		vcard_insert "$p" "$T/blank$i.state" >/dev/null
		p=$i
	fi
	echo 246810 | "$BIN/cardmgr-selftest" /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so \
	    "$(reader_name "$i")" 3<&0 >"$T/st$i" 2>&1 && found=$((found + 1))
done
check_eq "the self-test helper passes with the card in each of 8 full readers" 8 "$found"
vcard_remove 0; vcard_remove "$p"
vcard_insert 0 "$T/card.state" >/dev/null
check_fails "the factory PIN is gone" p11tool --login --pin 123456 --list-objects
puk=$(puk_of "$guid")
check "the PUK is the diversified one: yubico-piv-tool changes it" \
    ypt -a change-puk -P "$puk" -N "$puk"

# --- PIN change
check_fails "PIN change with a wrong old PIN is refused" sh -c "printf '111111\n135790\n' | '$BIN/cops_tool' -r '$R' pin-change >'$T/pc'"
check_grep "and reports the tries left (3, less the factory PIN try above, less this one)" '^tries=1$' "$T/pc"
check "PIN change with the right old PIN" sh -c "printf '246810\n135790\n' | '$BIN/cops_tool' -r '$R' pin-change"
check "OpenSC logs in with the new PIN" p11tool --login --pin 135790 --list-objects

# --- block, then unblock with the diversified PUK
for i in 1 2 3; do p11tool --login --pin 000000 --list-objects >/dev/null 2>&1; done
check_grep "PIN blocked" 'PIN tries left:[[:space:]]*0' <(ypt -a status)
check "unblock with the diversified PUK" sh -c "echo 975310 | '$BIN/cops_tool' -r '$R' unblock $guid"
check "OpenSC logs in with the PIN set at unblock" p11tool --login --pin 975310 --list-objects

# --- wipe back to stock
check "wipe with the card's own 9B key" cops wipe "$guid"
check_grep "wiped card is blank again" '^blank=1$' <(cops blank)
check_fails "no certificate left in 9a" ypt -a read-certificate -s 9a
check "factory PIN works again" p11tool --login --pin 123456 --list-objects

# --- a wipe with another card's key is refused and changes nothing
echo 246810 | cops issue >"$T/issue2" 2>/dev/null
g2=$(sed -n 's/^guid=//p' "$T/issue2")
check_fails "wipe with a wrong GUID's key is refused" cops wipe 00112233445566778899aabbccddeeff
check "the card still holds its 9a certificate" ypt -a read-certificate -s 9a
check "and its holder PIN" p11tool --login --pin 246810 --list-objects
check_fails "issuing over an issued card is refused (not blank)" sh -c "echo 246810 | '$BIN/cops_tool' -r '$R' -k '$T/ca.key' -c '$T/ca.crt' issue 2>'$T/nb'"
check_grep "with COPS_ERR_NOT_BLANK" 'COPS_ERR_NOT_BLANK' "$T/nb"
: "$g2"
done_testing
