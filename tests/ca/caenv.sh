# A private CA link environment for one test: the test PKI, a SoftHSM2 token
# for the station, the test CA and nginx in front of it, all in fresh mount,
# network and PID namespaces (the pattern of tests/lib/pcscenv.sh).
#
#   . "$TOP/tests/ca/caenv.sh"
#   caenv_init "$0" "$@"      # re-exec in namespaces; PKI, token, CA, nginx up
#   otp_add REF SECRET        # a one-time secret the CA will accept once
#   cli enroll-station ...    # the station CLI with $T/ca.conf
#   ca_stop; ca_start [testca options]   # restart the CA (state persists)
#
# ca.test and other.test resolve to loopback through a private /etc/hosts,
# ca2.test to 127.0.0.2: a second TLS front of the same CA, started by
# nginx2_start (tests of the station's failover between CA endpoints).
# Ports: 8080 CA (plain HTTP, also the CRL), 8443 mutual TLS, 8441 enrollment,
# 8444 wrong server name, 8445 untrusted server certificate. The test shell
# is PID 1 of its namespace: when it exits, everything it started dies.
# KEEP=1 keeps $T.

caenv_init() {
	local self=$1; shift
	if [ -z "${CAENV_INNER:-}" ]; then
		CAENV_INNER=1 exec unshare --mount --net --pid --fork --mount-proc \
		    --propagation private bash "$self" "$@"
	fi
	ip link set lo up || return 1
	umask 077	# secrets (PIN, one-time secrets) the tests write stay private
	T=$(mktemp -d /tmp/caenv.XXXXXX)
	export T PKI=$T/ca ST=$T/state
	mkdir -p "$T/pids" "$T/nginx" "$ST"
	trap caenv_cleanup EXIT
	printf '127.0.0.1 localhost ca.test other.test\n127.0.0.2 ca2.test\n' >"$T/hosts"
	mount --bind "$T/hosts" /etc/hosts || return 1
	bash "$TOP/tests/ca/mkpki.sh" "$PKI" >"$T/mkpki.log" 2>&1 || return 1
	caenv_token station || return 1
	caenv_conf "$T/ca.conf" "$ST" 8443
	ca_start "${CAENV_CA_OPTS[@]}" || return 1
	nginx_start || return 1
}

caenv_token() {	# label: a fresh SoftHSM2 token for the station key
	export SOFTHSM2_CONF=$T/softhsm2.conf
	mkdir -p "$T/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$T/tokens" >"$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label "$1" --pin "${CAENV_TOKEN_PIN:-123456}" --so-pin 12345678 \
	    >"$T/softhsm.log" 2>&1 || return 1
	printf "%s\n" "${CAENV_TOKEN_PIN:-123456}" >"$T/pin"
	chmod 600 "$T/pin"
}

caenv_conf() {	# file state_dir port
	cat >"$1" <<CONF
server = ca.test
port = $3
enroll_port = 8441
path = cmp
tls_trust = $PKI/root.crt
cmp_trust = $PKI/root.crt
untrusted = $PKI/ca.crt
cmp_sender = /O=Test/CN=Test Issuing CA
timeout = ${CAENV_TIMEOUT:-10}
state_dir = $2
pkcs11_module = /usr/lib/softhsm/libsofthsm2.so
token = station
pin_file = $T/pin
key_label = station-key
subject = /O=Test/CN=station-01
renew_before = 2592000
idm_url = https://ca.test:8443/idm
CONF
	chmod 600 "$1"
}

caenv_cleanup() {
	local f
	for f in "$T"/pids/*; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}

wait_port() {	# port: until something accepts on 127.0.0.1:port
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# nothing listens on port $1" >&2
	return 1
}

ca_start() {	# [testca options]
	"$BIN/testca" ${CAENV_NO_FSYNC:+--no-fsync} --state "$PKI" --port 8080 --crl-url http://ca.test:8080/crl \
	    "$@" >>"$T/testca.log" 2>&1 &
	echo $! >"$T/pids/testca"
	wait_port 8080 || { sed 's/^/#   /' "$T/testca.log" >&2; return 1; }
}

ca_stop() {
	[ -f "$T/pids/testca" ] || return 0
	kill "$(cat "$T/pids/testca")" 2>/dev/null
	wait "$(cat "$T/pids/testca")" 2>/dev/null
	rm -f "$T/pids/testca"
}

# ca_kill: SIGKILL the test CA process itself (stopped first, checked to be
# the testca binary). Sets CA_STATUS to its wait status (137 when the kill
# ended it). Not in $(...): a subshell cannot wait for the CA.
ca_kill() {
	local pid
	CA_STATUS=none
	pid=$(cat "$T/pids/testca" 2>/dev/null) || return 1
	kill -STOP "$pid" 2>/dev/null
	if [ "$(proc_state "$pid")" = T ] &&
	    [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$BIN/testca")" ]; then
		kill -9 "$pid"
	else
		kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null
	fi
	wait "$pid"
	CA_STATUS=$?
	rm -f "$T/pids/testca"
}

# ca_reap: CA_STATUS = the wait status of a test CA that ended by itself
# (at a crash point).
ca_reap() {
	local pid
	CA_STATUS=none
	pid=$(cat "$T/pids/testca" 2>/dev/null) || return 1
	wait "$pid"
	CA_STATUS=$?
	rm -f "$T/pids/testca"
}

nginx_start() {
	sed -e "s|@T@|$T|g" -e "s|@PKI@|$PKI|g" "$TOP/tests/ca/nginx.conf.in" \
	    >"$T/nginx.conf"
	nginx -p "$T/nginx" -c "$T/nginx.conf" -e "$T/nginx/error.log" \
	    -g 'daemon off;' >>"$T/nginx.out" 2>&1 &
	echo $! >"$T/pids/nginx"
	wait_port 8443 || { sed 's/^/#   /' "$T/nginx/error.log" >&2; return 1; }
}

# nginx_kill: SIGKILL the TLS front, master and workers (by pid, children
# of the master we started), as a crash would: no graceful close.
nginx_kill() {
	local m
	m=$(cat "$T/pids/nginx" 2>/dev/null) || return 1
	kill -9 "$m" $(cat /proc/"$m"/task/*/children 2>/dev/null) 2>/dev/null
	wait "$m" 2>/dev/null
	rm -f "$T/pids/nginx"
}

# nginx2_start: a second nginx, its own process, in front of the same test
# CA: ca2.test (127.0.0.2) with its own certificate, mutual TLS on 8443 and
# enrollment on 8441, as a CA cluster's second front sharing the CA's state.
nginx2_start() {
	mkdir -p "$T/nginx2"
	sed -e "s|@T@|$T|g" -e "s|@PKI@|$PKI|g" "$TOP/tests/ca/nginx2.conf.in" \
	    >"$T/nginx2.conf"
	nginx -p "$T/nginx2" -c "$T/nginx2.conf" -e "$T/nginx2/error.log" \
	    -g 'daemon off;' >>"$T/nginx2.out" 2>&1 &
	echo $! >"$T/pids/nginx2"
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.2/8443") 2>/dev/null && return 0
		sleep 0.05
	done
	sed 's/^/#   /' "$T/nginx2/error.log" >&2
	return 1
}

# front_kill 1|2: SIGKILL one TLS front (nginx or nginx2), master and
# workers, as nginx_kill does.
front_kill() {
	local f=nginx m
	[ "$1" = 2 ] && f=nginx2
	m=$(cat "$T/pids/$f" 2>/dev/null) || return 1
	kill -9 "$m" $(cat /proc/"$m"/task/*/children 2>/dev/null) 2>/dev/null
	wait "$m" 2>/dev/null
	rm -f "$T/pids/$f"
}

# sigpipe_ignored PID: 1 if the kernel says that process ignores SIGPIPE
# (bit 13 of SigIgn in /proc/PID/status), else 0.
sigpipe_ignored() {
	local m
	m=$(awk '/^SigIgn:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$m" ] && echo $(( (0x$m >> 12) & 1 )) || echo 0
}

# drain_lock_held: the station's drain lock is flock()ed by someone (looked
# up in /proc/locks, not taken).
drain_lock_held() {
	[ -e "$ST/drain.lock" ] && grep -q "FLOCK .*:$(stat -c %i "$ST/drain.lock") " /proc/locks
}

otp_add() {	# ref secret
	printf '%s' "$2" >"$PKI/otp/$1"
}

cli() {
	"$BIN/cardmgr-ca" -c "$T/ca.conf" "$@"
}

# The crash points (CARDMGR_CA_CRASH_AT) exist only in test builds
# (MODE=asan): a release cardmgr-ca does not even hold the variable's name.
has_crash_hook() {
	grep -qa CARDMGR_CA_CRASH_AT "$BIN/cardmgr-ca"
}

mkcsr() {	# name [subject]: $T/name.key and DER $T/name.csr (a card stand-in)
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "${2:-/O=Test/CN=$1}" -outform DER \
	    -out "$T/$1.csr" 2>/dev/null
}

enroll_station() {	# a station certificate for the default station
	otp_add station-01 "s3cret-$RANDOM"
	printf '%s' "$(cat "$PKI/otp/station-01")" >"$T/otp"
	cli enroll-station --ref station-01 --secret-file "$T/otp"
}

issued_count() {	# certificates in the CA's issued/ (not its temp files)
	ls "$PKI/issued" | grep -c '\.der$'
}

# ca_txid_serial TXID: the serial of the certificate the CA's own record
# of that transaction holds (read with openssl), empty if it has none.
ca_txid_serial() {
	[ -s "$PKI/txid/$1" ] &&
	    openssl x509 -inform DER -in "$PKI/txid/$1" -noout -serial | cut -d= -f2
}

# ca_record_problems: what is wrong with the CA's own records, empty if
# nothing: a certificate in issued/ that no transaction record names (issued
# twice for one transaction, the second record overwriting the first), or
# a record naming a certificate issued/ lacks. Read from the CA's files.
ca_record_problems() {
	local f sn
	for f in "$PKI"/txid/*; do
		case $f in *.tmp|*'*') continue ;; esac
		sn=$(ca_txid_serial "${f##*/}")
		echo "$sn" >>"$T/ca-rec.$$"
		[ -s "$PKI/issued/$sn.der" ] || printf 'record %s names serial %s, not in issued/ ' "${f##*/}" "$sn"
	done
	touch "$T/ca-rec.$$"
	for f in "$PKI"/issued/*.der; do
		[ -e "$f" ] || continue
		sn=${f##*/}; sn=${sn%.der}
		grep -qx "$sn" "$T/ca-rec.$$" || printf 'certificate %s has no transaction record ' "$sn"
	done
	rm -f "$T/ca-rec.$$"
}

station_bin_pids() {	# pids of running (not zombie) cardmgr-ca processes
	local p exe
	exe=$(readlink -f "$BIN/cardmgr-ca")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] &&
		    [ "$(proc_state "${p#/proc/}")" != Z ] && echo "${p#/proc/}"
	done
}

is_station_bin() {	# pid: is it cardmgr-ca (exec'd, not a shell's fork)?
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$BIN/cardmgr-ca")" ]
}

proc_state() {	# pid: its state letter (R, S, T, Z ...), empty if gone
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1
}

set_conf() {	# key value: change one line of $T/ca.conf
	sed -i "s|^$1 = .*|$1 = $2|" "$T/ca.conf"
}

outbox_state() {	# op id: its state word from `outbox list`
	cli outbox list | awk -v id="$1" '$1 == id { print $3 }'
}

# ca_state NAME: a value of the station's "ca_state" LMDB database (the
# current key label, the next one, the revoked marker), read with mdb_dump
# (lmdb-utils), not through the station's own code. Empty if not set.
ca_state() {
	mdb_dump -p -s ca_state "$ST/outbox" 2>/dev/null |
	    awk -v k=" $1" 'BEGIN { h = 1 } /^HEADER=END/ { h = 0; next }
		h || /^DATA=END/ { next }
		{ n++ } n % 2 == 1 && $0 == k { f = 1; next }
		f { sub(/^ /, ""); print; exit }'
}
