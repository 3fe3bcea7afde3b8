# The whole station for one test: a private pcscd with virtual readers
# (tests/lib/pcscenv.sh), the test CA behind nginx with an enrolled station
# (tests/ca/caenv.sh), and cardmgrd with its three processes under their own
# users, all in fresh mount, network and PID namespaces.
#
#   . "$TOP/tests/daemon/stationenv.sh"
#   stationenv_init "$0" "$@"     # readers, CA, station enrolled, daemon up
#   as_officer cardmgr ...        # the CLI as uid 2001 (badge officer)
#   as_helpdesk / as_security / as_auditor / as_holder (no operator)
#   daemon_stop; daemon_start
#
# Operators are uids without passwd entries (the operator map takes uids), so
# the test adds no accounts besides the service users (firmware/users.sh).
. "$TOP/tests/lib/pcscenv.sh"
. "$TOP/tests/ca/caenv.sh"

OFFICER=2001 HELPDESK=2002 SECURITY=2003 AUDITOR=2004 ADMIN=2005 NOBODY=2009

stationenv_init() {
	local self=$1; shift
	if [ -z "${PCSCENV_INNER:-}" ]; then
		mkdir -p /run/pcscd
		PCSCENV_INNER=1 CAENV_INNER=1 exec unshare --mount --net --pid \
		    --fork --mount-proc --propagation private bash "$self" "$@"
	fi
	pcscenv_init "$self" "$@" || return 1
	umask 077	# secrets the tests write stay private
	chmod 755 "$T"
	export PKI=$T/ca ST=$T/state
	mkdir -p "$T/nginx" "$ST"
	printf '127.0.0.1 localhost ca.test other.test\n' >"$T/hosts"
	chmod 644 "$T/hosts"
	mount --bind "$T/hosts" /etc/hosts || return 1
	(umask 077; bash "$TOP/tests/ca/mkpki.sh" "$PKI" >"$T/mkpki.log" 2>&1) || return 1
	# A token PIN no binary contains, so a test can look for it in memory.
	CAENV_TOKEN_PIN=tok-$RANDOM-$RANDOM	# not exported: the daemon must not inherit it
	caenv_token station || return 1
	caenv_conf "$T/ca.conf" "$ST" 8443
	ca_start || return 1
	nginx_start || return 1
	enroll_station >"$T/enroll.log" 2>&1 || return 1
	"$TOP/firmware/users.sh" || return 1
	station_files
	daemon_start
}

# What each process may read: public certificates and profiles; the token
# directory is keyd's; the CA state directory (station.crt, CRL) the engine's.
station_files() {
	chmod 755 "$PKI"
	chmod 644 "$PKI"/*.crt "$SOFTHSM2_CONF"
	chown -R cardmgr-keyd: "$T/tokens"
	chown -R cardmgr-engine: "$ST"
	mkdir -p "$T/etc/profiles" "$T/run"
	chmod 755 "$T/run"
	cp "$TOP"/provisioning/profiles/* "$T/etc/profiles/"
	cp "$TOP/provisioning/lifecycle.conf" "$T/etc/lifecycle.conf"
	# Tests hash answers at the cheap Argon2id cost; the product default
	# (64 MiB) is for real stations.
	for f in "$T"/etc/profiles/*.conf; do
		grep -q '^challenge' "$f" && sed -i "s/^challenge = {/challenge = {\\n  hash_ops = 1; hash_mem_kib = 8;/" "$f"
	done
	cat >"$T/etc/operators.conf" <<OPS
operators = (
  { uid = $OFFICER; name = "Olivia Officer"; roles = [ "badge_officer" ]; },
  { uid = $HELPDESK; name = "Harry Helpdesk"; roles = [ "helpdesk" ]; },
  { uid = $SECURITY; name = "Sam Security"; roles = [ "security_officer" ]; },
  { uid = $AUDITOR; name = "Ada Auditor"; roles = [ "auditor" ]; },
  { uid = $ADMIN; name = "Alex Admin"; roles = [ "administrator" ]; }
);
OPS
	cat >"$T/etc/cardmgrd.conf" <<CONF
state_dir = "$T/inv";
profiles_dir = "$T/etc/profiles";
operators = "$T/etc/operators.conf";
lifecycle = "$T/etc/lifecycle.conf";
ca_conf = "$T/ca.conf";
api_port = 8410;
ca_retry_seconds = 1;
api_socket = "$T/run/api.sock";
keyd_ledger = "$T/keyd/exported";
seccomp = "${CARDMGRD_SECCOMP:-enforce}";
ui_dir = "$TOP/kiosk-ui";
stock = { location = "desk"; };
CONF
	chmod -R go-w,a+rX "$T/etc"	# public: only their writers matter
}

# OpenSC 0.23 leaks in C_DeriveKey (tests/drivers/lsan.supp); the self-test
# helper under ASan would report it.
export LSAN_OPTIONS=suppressions=$TOP/tests/drivers/lsan.supp
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}:fast_unwind_on_malloc=0

# CARDMGRD_WRAP: a command the daemon runs under, e.g. a script that execs
# `strace -ff -o DIR/st "$@"` to list each process's system calls
# (docs/daemon.md, "Sandbox"); CARDMGRD_SECCOMP=log: the debug mode.
daemon_start() {
	${CARDMGRD_WRAP:-} "$BIN/cardmgrd" -d -c "$T/etc/cardmgrd.conf" >>"$T/cardmgrd.log" 2>&1 &
	echo $! >"$T/pids/cardmgrd"
	local i
	for ((i = 0; i < 200; i++)); do
		if as_auditor "$BIN/cardmgr" -s "$T/run/api.sock" status >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$(cat "$T/pids/cardmgrd")" 2>/dev/null || break
		sleep 0.05
	done
	echo "# cardmgrd did not come up; log:" >&2
	sed 's/^/#   /' "$T/cardmgrd.log" >&2
	return 1
}

daemon_stop() {
	[ -f "$T/pids/cardmgrd" ] || return 0
	kill "$(cat "$T/pids/cardmgrd")" 2>/dev/null
	wait "$(cat "$T/pids/cardmgrd")" 2>/dev/null
	rm -f "$T/pids/cardmgrd"
}

as_uid() {	# uid cmd...
	local u=$1; shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}
as_officer() { as_uid $OFFICER "$@"; }
as_helpdesk() { as_uid $HELPDESK "$@"; }
as_security() { as_uid $SECURITY "$@"; }
as_auditor() { as_uid $AUDITOR "$@"; }
as_admin() { as_uid $ADMIN "$@"; }
as_nobody() { as_uid $NOBODY "$@"; }
cm() {	# as the current user: cm UIDFN args...
	local who=$1; shift
	"as_$who" "$BIN/cardmgr" -s "$T/run/api.sock" "$@"
}
