# Helpers for the drivers integration tests (source after pcscenv_init).
#   drv ARGS...        build/*/bin/drvtool on reader 0 ($R)
#   drvs NAME=VALUE... -- ARGS...
#                      the same with those secrets on --secrets-fd 3 (printf
#                      is a shell builtin: no secret on any process's argv)
#   ypt ARGS...        yubico-piv-tool on reader 0
#   p11tool ARGS...    pkcs11-tool over opensc-pkcs11 (the stock PKCS#11 path)
#   make_ca            a throwaway CA in $T/ca.key, $T/ca.crt
#   ca_sign CSR OUT    certificate for CSR from that CA
OPENSC_P11=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
R=$(reader_name 0)
drv() { "$BIN/drvtool" -r "$R" "$@"; }
drvs() {
	local sec=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sec+=("$1"); shift; done
	shift
	drv --secrets-fd 3 "$@" 3< <(printf '%s\n' "${sec[@]}")
}
# secrets NAME=VALUE...: the lines for a --secrets-fd of one's own
secrets() { printf '%s\n' "$@"; }
ypt() { yubico-piv-tool -r "$R" "$@"; }
p11tool() { pkcs11-tool --module "$OPENSC_P11" "$@"; }

make_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" \
	    -subj /CN=drivers-test-CA -days 2 2>/dev/null
}

ca_sign() {
	openssl x509 -req -in "$1" -CA "$T/ca.crt" -CAkey "$T/ca.key" -days 1 \
	    -set_serial "$RANDOM" -out "$2" 2>/dev/null
}

# Private OpenSC config: no file cache, so each read goes to the card.
opensc_private() {
	export OPENSC_CONF=$T/opensc.conf
	printf 'app default {\n\tframework pkcs15 {\n\t\tuse_file_caching = false;\n\t}\n}\n' \
	    >"$OPENSC_CONF"
}
