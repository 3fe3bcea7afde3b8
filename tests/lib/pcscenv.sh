# A private, hermetic smart card stack for one test: its own pcscd with
# vsmartcard's vpcd readers, virtual PIV cards, and nothing left running after.
#
#   . "$TOP/tests/lib/pcscenv.sh"
#   pcscenv_init "$0" "$@"          # re-execs the test in fresh mount, network and
#                                  # PID namespaces, then starts pcscd
#   vcard_insert 0 "$T/card0.state" --create   # a virtual card into reader 0
#   reader_name 0                  # -> "Virtual PCD 0 00 00"
#   vcard_remove 0
#
# Inside: /run/pcscd is a private tmpfs, loopback is a private network (so vpcd's
# ports never clash with the demo or another test), HOME=$T/home (so OpenSC and
# ykman caches are private), and the test shell is PID 1: when it exits, the
# kernel kills every process it started. PCSCENV_READERS sets the number of
# readers (even, default 4; pcsc-lite allows 16). KEEP=1 keeps $T for debugging.

VPCD_SO=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
VPCD_BASE_PORT=35963

pcscenv_init() {
	local self=$1; shift
	if [ -z "${PCSCENV_INNER:-}" ]; then
		mkdir -p /run/pcscd
		PCSCENV_INNER=1 exec unshare --mount --net --pid --fork --mount-proc \
		    --propagation private bash "$self" "$@"
	fi
	mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || return 1
	ip link set lo up || return 1
	T=$(mktemp -d /tmp/pcscenv.XXXXXX)
	export T
	export HOME=$T/home
	mkdir -p "$HOME" "$T/readers" "$T/drivers" "$T/pids"
	trap pcscenv_cleanup EXIT
	pcscenv_write_readers "${PCSCENV_READERS:-4}"
	pcscd -f -c "$T/readers" >"$T/pcscd.log" 2>&1 &
	echo $! >"$T/pids/pcscd"
	pcscenv_wait_readers "${PCSCENV_READERS:-4}"
}

# One reader.conf.d entry per pair of readers, each with its own copy of the
# driver: entries sharing a LIBPATH make pcscd reuse one driver instance.
pcscenv_write_readers() {
	local n=$1 i port
	for ((i = 0; i < n / 2; i++)); do
		port=$((VPCD_BASE_PORT + 2 * i))
		cp "$VPCD_SO" "$T/drivers/libifdvpcd$i.so"
		printf 'FRIENDLYNAME "Virtual PCD %d"\nDEVICENAME /dev/null:%d\nLIBPATH %s\nCHANNELID %d\n' \
		    "$i" "$port" "$T/drivers/libifdvpcd$i.so" "$port" >"$T/readers/vpcd$i"
	done
}

pcscenv_wait_readers() {
	local n=$1 i
	for ((i = 0; i < 100; i++)); do
		if [ "$(opensc-tool -l 2>/dev/null | grep -c 'Virtual PCD')" -ge "$n" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "# pcscd did not show $n readers; log:" >&2
	sed 's/^/#   /' "$T/pcscd.log" >&2
	return 1
}

pcscenv_cleanup() {
	local f
	for f in "$T"/pids/vcard* "$T"/pids/*; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "${KEEP:-}" ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
}

# reader_name INDEX: the PC/SC name of reader INDEX (0-based).
reader_name() {
	printf 'Virtual PCD %d 00 %02d' $(($1 / 2)) $(($1 % 2))
}

reader_port() {
	echo $((VPCD_BASE_PORT + $1))
}

# card_present INDEX: true if pcscd reports a card in reader INDEX.
card_present() {
	opensc-tool -r "$(reader_name "$1")" -a >/dev/null 2>&1
}

# vcard_insert INDEX STATEFILE [vcard options...]: plug a virtual card in and wait
# until pcscd sees it.
vcard_insert() {
	local idx=$1 state=$2 i; shift 2
	"$BIN/vcard" --port "$(reader_port "$idx")" --state "$state" "$@" \
	    >>"$T/vcard$idx.log" 2>&1 &
	echo $! >"$T/pids/vcard$idx"
	for ((i = 0; i < 100; i++)); do
		card_present "$idx" && return 0
		kill -0 "$(cat "$T/pids/vcard$idx")" 2>/dev/null || break
		sleep 0.05
	done
	echo "# card in reader $idx did not come up; vcard log:" >&2
	sed 's/^/#   /' "$T/vcard$idx.log" >&2
	return 1
}

# vcard_remove INDEX: pull the card out and wait until pcscd notices.
vcard_remove() {
	local idx=$1 pidf=$T/pids/vcard$1 i
	[ -f "$pidf" ] || return 0
	kill "$(cat "$pidf")" 2>/dev/null
	wait "$(cat "$pidf")" 2>/dev/null
	rm -f "$pidf"
	for ((i = 0; i < 100; i++)); do
		card_present "$idx" || return 0
		sleep 0.05
	done
	return 1
}
