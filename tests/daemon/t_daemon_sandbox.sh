#!/bin/bash
# Each cardmgrd process runs under its own seccomp allow-list
# (cardmgr/proc/sandbox.c). The kernel says so (/proc/PID/status), and a
# forbidden call, made on request through the test-build probe
# (CARDMGRD_SECCOMP_PROBE=<role>:<syscall>), kills the process that made it in
# enforcing mode: the station stops as a whole (fail closed) and its log says
# which process and why. In log mode the same call is named in the log and
# refused, and the station goes on serving. A forbidden call in the self-test
# helper fails that issuance only.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
if ! grep -qa CARDMGRD_SECCOMP_PROBE "$BIN/cardmgrd"; then
	echo "# release build: no sandbox probe"; exit 77
fi

# --- the filters are on, in every process (the kernel's word for it)
check "status answers with the filters on" cm auditor status
for p in $(pgrep -f "cardmgrd -d -c $T/"); do
	u=$(stat -c %U /proc/$p)
	check_grep "$u process $p: seccomp filter mode (Seccomp: 2)" '^Seccomp:[[:space:]]+2$' /proc/$p/status
done
check_eq "five processes are filtered (keyd's PKCS#11 helper too)" 5 "$(grep -l '^Seccomp:.*2$' $(for p in $(pgrep -f "cardmgrd -d -c $T/"); do echo /proc/$p/status; done) | wc -l)"

# probe ROLE SYSCALL MODE: restart the daemon with the probe; leaves its exit
# status in $rc (or "running") and the log's new lines in $T/probe.log.
probe() {
	local i pid
	daemon_stop
	: >"$T/cardmgrd.log"
	sed -i "s/^seccomp = .*/seccomp = \"$3\";/" "$T/etc/cardmgrd.conf"
	CARDMGRD_SECCOMP_PROBE=$1:$2 daemon_start >/dev/null 2>&1
	pid=$(cat "$T/pids/cardmgrd" 2>/dev/null)
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$3" = log ] && grep -q "sandbox: system call $2" "$T/cardmgrd.log" && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		rc=running
	else
		wait "$pid" 2>/dev/null; rc=$?
		rm -f "$T/pids/cardmgrd"
	fi
	cp "$T/cardmgrd.log" "$T/probe.log"
	sed 's/^/# log: /' "$T/probe.log" | grep -v '<[67]>' | head -n 20
}

# --- enforcing: the process dies, the station stops, the log says why
for rp in api:ptrace keyd:ptrace engine:unshare parent:unshare; do
	role=${rp%%:*} sc=${rp#*:}
	probe "$role" "$sc" enforce
	check "enforce, $role calls $sc: the daemon stops (exit $rc)" test "$rc" != running -a "$rc" != 0
	name=$role; [ "$role" = parent ] && name=cardmgrd
	if [ "$role" = parent ]; then
		# the parent itself is gone: nobody is left to log; the test
		# shell sees SIGSYS (128 + 31)
		check_eq "enforce, parent calls $sc: killed by SIGSYS" 159 "$rc"
	else
		check_grep "enforce, $role calls $sc: the log names $role and its sandbox" \
		    "$role killed by its sandbox \\(SIGSYS" "$T/probe.log"
	fi
	check_fails "enforce, $role calls $sc: nothing answers" cm auditor status
done

# --- log mode: named, refused, and the station serves on
probe api ptrace log
check_eq "log, api calls ptrace: the daemon keeps running" running "$rc"
check_grep "log, api calls ptrace: the log names the call" \
    '^<4>api: sandbox: system call ptrace \(101\) is not on the allow-list' "$T/probe.log"
check "log, api calls ptrace: the station still answers" cm auditor status
probe keyd ptrace log
check_grep "log, keyd calls ptrace: the log names the call" \
    '^<4>keyd: sandbox: system call ptrace \(101\)' "$T/probe.log"
check "log, keyd calls ptrace: the station still answers" cm auditor status
probe p11h ptrace log
check_grep "log, keyd's PKCS#11 helper calls ptrace: the log names the call" \
    '^<4>p11h: sandbox: system call ptrace \(101\)' "$T/probe.log"
check "log, p11h calls ptrace: the station still answers" cm auditor status
# A helper killed before it opened the token, at start: keyd gives up and
# the station does not come up (fail closed at start; after a start, a dead
# helper is restarted: t_daemon_p11crash).
probe p11h ptrace enforce
check "enforce, p11h calls ptrace at start: the daemon stops (exit $rc)" test "$rc" != running -a "$rc" != 0
check_grep "enforce, p11h calls ptrace: keyd says its helper was killed by its sandbox" \
    "keyd: .*module helper killed by its sandbox \\(SIGSYS\\)" "$T/probe.log"

# --- the self-test helper: a forbidden call fails that issuance, not the station
daemon_stop
sed -i 's/^seccomp = .*/seccomp = "enforce";/' "$T/etc/cardmgrd.conf"
CARDMGRD_SECCOMP_PROBE=selftest:unshare daemon_start
cm officer holders add --id E100 --name "Jane Doe" --email jane@example.com >/dev/null
vcard_insert 0 "$T/card0.state" --create --serial 6001 >/dev/null
op=$(issue_temp "$R" 6001 482916)
st=$(wait_op "$op")
check "selftest calls unshare: the issuance fails ($st)" grep -qE '^(failed|rolled_back)$' <<<"$st"
check_grep "and the engine says the helper was killed by its sandbox" \
    'self-test helper killed by its sandbox' "$T/cardmgrd.log"
check "the station still answers" cm auditor status
for ((i = 0; i < 40; i++)); do
	[ "$(card_state 6001)" = retired ] && break
	sleep 0.25
done
check_eq "the card was rolled back (retired in the inventory)" retired "$(card_state 6001)"
check "and is factory-blank again" card_blank "$R"
daemon_stop
daemon_start
op=$(issue_temp "$R" 6001 482916)
check_eq "without the probe the same card issues" done "$(wait_op "$op")"
done_testing
