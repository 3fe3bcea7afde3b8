# Helpers for the daemon tests (source after stationenv_init).

# Issuance takes blank cards only from stock (cardmgrd.conf stock.require,
# docs/lifecycle.md "Blank stock"): a card a test creates with a serial is
# received into the station's stock first, as a badge officer would do with
# a delivery. stock_receive SERIAL... receives cards created otherwise.
stock_receive() {
	local s
	for s in "$@"; do
		cm officer stock receive --model piv-yubico --location desk \
		    --serials "$s" >/dev/null 2>>"$T/stock_receive.err" || return 1
	done
}
eval "vcard_insert_raw() $(declare -f vcard_insert | tail -n +2)"
vcard_insert() {	# as pcscenv's; with --create --serial N, N is received
	local a prev="" create=0 serial=""
	for a in "$@"; do
		[ "$a" = --create ] && create=1
		[ "$prev" = --serial ] && serial=$a
		prev=$a
	done
	if [ "$create" = 1 ] && [ -n "$serial" ]; then
		stock_receive "$serial" || return 1
	fi
	vcard_insert_raw "$@"
}
json() {	# file python-expression-on-j
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}
wait_op() {	# op id -> its final state on stdout (the engine says when)
	cm officer --json --wait op show "$1" >"$T/op.json" 2>/dev/null
	json "$T/op.json" 'j["state"]' 2>/dev/null
}
card_state() {	# serial -> state, or "none"
	cm auditor --json cards show "$1" >"$T/cs.json" 2>/dev/null || { echo none; return; }
	json "$T/cs.json" 'j["state"]'
}
# issue_temp READER SERIAL PIN: a temporary card for holder E100; prints the
# operation id (retries while the reader watcher still holds the reader).
issue_temp() {
	local i
	printf '%s\n' "$3" >"$T/s.pin"
	for ((i = 0; i < 20; i++)); do
		cm officer --json --secrets-fd 3 issue --reader "$1" --holder E100 \
		    --profile temporary 3<"$T/s.pin" >"$T/it.json" 2>"$T/it.err"
		grep -q reader_busy "$T/it.err" || break
		sleep 0.1
	done
	json "$T/it.json" 'j.get("operation", "")' 2>/dev/null
}
# The card in reader R is factory-blank: the factory 9B key authenticates and
# no certificate is left in 9a.
card_blank() {	# reader
	yubico-piv-tool -r "$1" -a set-mgm-key -n 010203040506070801020304050607080102030405060708 >/dev/null 2>&1 &&
	    ! yubico-piv-tool -r "$1" -a read-certificate -s 9a >/dev/null 2>&1
}
# Certificates the test CA issued for cards (not the station's) minus those
# on its CRL.
ca_unrevoked() {
	local issued revoked
	issued=$(grep -c 'issued serial=.*profile=\(piv-auth-temp\|card-auth\|piv-auth\|piv-sign\|piv-keymgmt\)' "$T/testca.log")
	curl -s http://ca.test:8080/crl | openssl crl -inform DER -noout -text >"$T/crl.now" 2>/dev/null
	revoked=$(grep -c 'Serial Number' "$T/crl.now")
	echo $((issued - revoked))
}

# The CRL as the CA publishes it, "SERIAL REASON" per entry (upper-case
# serial, openssl's reason text with spaces removed).
crl_entries() {
	curl -s http://ca.test:8080/crl | openssl crl -inform DER -noout -text |
	    python3 -c '
import re, sys
sn = None
for line in sys.stdin:
    m = re.match(r"\s*Serial Number: ([0-9A-F]+)", line)
    if m:
        sn = m.group(1); continue
    t = line.strip()
    if sn and t and not t.startswith(("Revocation Date", "CRL entry", "X509v3")):
        print(sn, t.replace(" ", "")); sn = None
' | sort
}
# crl_has REASON SERIALS...: every serial listed with REASON ("absent": none listed)
crl_has() {
	local want=$1 sn got; shift
	crl_entries >"$T/crl.now"
	for sn in "$@"; do
		got=$(awk -v s="${sn^^}" '$1 == s { print $2 }' "$T/crl.now")
		[ "${got:-absent}" = "$want" ] || { echo "# $sn: ${got:-absent}, want $want" >&2; return 1; }
	done
}
card_json() { cm auditor --json cards show "$1" >"$T/c.json" 2>/dev/null; }
field() { card_json "$1"; json "$T/c.json" "$2"; }
serials() { field "$1" '" ".join(c["serial"] for c in j["certificates"])'; }
cert_states() { field "$1" '" ".join(sorted(set(c["status_name"] for c in j["certificates"])))'; }
# post WHO PATH BODY: HTTP status of a raw API call on the UNIX socket
post() {	# (the body lands in $T/post.json, written by this shell)
	"as_$1" curl -s -w '\n%{http_code}' --unix-socket "$T/run/api.sock" \
	    -X POST -H 'Content-Type: application/json' --data "$3" \
	    "http://localhost$2" >"$T/post.out"
	sed '$d' "$T/post.out" >"$T/post.json"
	tail -n 1 "$T/post.out"
}
wait_settled() {	# serial: until pending_ca is 0 (the drain runs every second)
	local i p
	for ((i = 0; i < 80; i++)); do
		p=$(field "$1" 'j["pending_ca"]')
		[ "$p" = 0 ] && return 0
		sleep 0.25
	done
	return 1
}

msg_sha() { sha256sum "$1" | cut -d' ' -f1; }

# An officer issues an employee card (PIN, five challenge answers on fd 3):
# the operation's final state on stdout; its answer in $T/issue.json.
issue_employee() {	# reader holder pin
	printf '%s\nred bicycle\nanswer two\nanswer three\nanswer four\nanswer five\n' "$3" >"$T/s"
	cm officer --json --secrets-fd 3 issue --reader "$1" --holder "$2" --profile employee \
	    --question 1 --question 2 --question 3 --question 4 --question 5 3<"$T/s" >"$T/issue.json"
	wait_op "$(json "$T/issue.json" 'j["operation"]')"
}

# The digest of what OpenSC (pkcs11-tool, tests/drivers/lib.sh) decrypts from
# file IN with the card's key ID (03: 9D, 05: retired slot 82, through the
# key history) under PIN; nothing when it cannot.
p11_decrypted() {	# pin id in
	local out="$3.p11dec"
	rm -f "$out"
	p11tool --login --pin "$1" --decrypt --id "$2" -m RSA-PKCS --input-file "$3" \
	    --output-file "$out" >/dev/null 2>&1 && msg_sha "$out"
}
