#!/bin/bash
# t_kiosk: the kiosk session headless. The command line of
# firmware/cardmgr-kiosk.service (cage -d -- kiosk-session) runs as the
# kiosk's user with wlroots' headless backend and software renderer, in
# private mount, network and PID namespaces; Chromium shows the station's
# loopback URL. The daemon of this branch serves no page at GET /, so the
# test serves its own page there (http://127.0.0.1:8410/, in its private
# network). Checked: a screenshot of the first screen (grim, kept as
# test-logs/kiosk-first-screen.png) shows the page; the browser killed with
# SIGKILL is started again inside the same cage and shows the page again;
# nothing but the session script and Chromium runs under cage; the unit
# allows no VT switching and the user has no shell; Chromium runs under its
# managed policy (firmware/chromium-kiosk-policy.json: any other URL blocked).
. "$TOP/tests/lib/tap.sh"
if [ -z "${TKIOSK_INNER:-}" ]; then
	TKIOSK_INNER=1 exec unshare --mount --net --pid --fork --mount-proc \
	    --propagation private bash "$0" "$@"
fi
ip link set lo up
T=$(mktemp -d /tmp/kiosk.XXXXXX)
chmod 755 "$T"
LOGS=$(cd "$BIN/.." && pwd)/test-logs
mkdir -p "$LOGS"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"' EXIT
UNIT=$TOP/firmware/cardmgr-kiosk.service

"$TOP/firmware/users.sh" cardmgr-kiosk
KU=$(id -u cardmgr-kiosk)
check_eq "the kiosk user has no shell" /usr/sbin/nologin "$(getent passwd cardmgr-kiosk | cut -d: -f7)"
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
check_eq "the unit runs cage, without -s (no VT switching), with kiosk-session as its one client" \
    "/usr/bin/cage -d -- /usr/libexec/cardmgr/kiosk-session" "$exec_start"
check_grep "the unit keeps tty1 from a getty" '^Conflicts=getty@tty1\.service$' "$UNIT"
check_grep "the unit starts cage again if it ends" '^Restart=always$' "$UNIT"

# The station's page, on the kiosk's URL: a green screen with white text.
mkdir -p "$T/www"
cat >"$T/www/index.html" <<'HTML'
<!doctype html><html><head><title>station</title></head>
<body style="margin:0;background:#1f6f3f;color:#ffffff;font:64px sans-serif">
<h1>Card station</h1></body></html>
HTML
python3 -m http.server 8410 --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
for ((i = 0; i < 100; i++)); do (exec 3<>/dev/tcp/127.0.0.1/8410) 2>/dev/null && break; sleep 0.05; done

# Chromium's managed policy as the package installs it (over a private
# /etc/chromium), so the session runs with it.
mkdir -p "$T/etc-chromium/policies/managed"
cp /etc/chromium/* "$T/etc-chromium/" 2>/dev/null
cp "$TOP/firmware/chromium-kiosk-policy.json" "$T/etc-chromium/policies/managed/cardmgr-kiosk.json"
mount --bind "$T/etc-chromium" /etc/chromium

# The unit's PrivateTmp: Xwayland's socket directory is the session's own.
mkdir -p /tmp/.X11-unix 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp/.X11-unix

# The session, as the unit runs it (XDG_RUNTIME_DIR and HOME its runtime
# directory), with the headless backend; kiosk-session from the tree.
RUN=$T/run; mkdir -m 700 "$RUN"; chown "$KU:$KU" "$RUN"
cmd=${exec_start/\/usr\/libexec\/cardmgr\/kiosk-session/$TOP/firmware/kiosk-session}
setpriv --reuid="$KU" --regid="$KU" --init-groups env -i PATH=/usr/bin:/bin \
    XDG_RUNTIME_DIR="$RUN" HOME="$RUN" XDG_SESSION_TYPE=wayland \
    WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1 \
    $cmd >"$T/session.log" 2>&1 &
setpriv_pid=$!

shot() {	# file.png: grim's screenshot of the kiosk's output
	XDG_RUNTIME_DIR=$RUN WAYLAND_DISPLAY=wayland-0 grim -t ppm - 2>/dev/null >"$T/shot.ppm" &&
	    python3 - "$T/shot.ppm" "$1" <<'PY'
import sys, zlib, struct
# The share of the page's green (#1f6f3f, +-8 a channel) and of white text:
# the screen is not blank when at least 0.5% is the page's green. (Known:
# with Debian 12's cage 0.1.4 on the headless backend Chromium's window
# does not fill the output, from 500x46 to 532x129 of 1280x720: the share
# is 1% to 7%; real screens not tried.)
# the same pixels written out as a PNG for people to look at.
d = open(sys.argv[1], "rb").read()
parts = d.split(b"\n", 3)
w, h = map(int, parts[1].split()); px = parts[3][: w * h * 3]
green = white = 0
for i in range(0, len(px), 3 * 7):
	r, g, b = px[i], px[i + 1], px[i + 2]
	if abs(r - 0x1f) <= 8 and abs(g - 0x6f) <= 8 and abs(b - 0x3f) <= 8: green += 1
	elif r > 240 and g > 240 and b > 240: white += 1
n = len(range(0, len(px), 3 * 7))
raw = b"".join(b"\0" + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
def chunk(t, c): return struct.pack(">I", len(c)) + t + c + struct.pack(">I", zlib.crc32(t + c))
open(sys.argv[2], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
print(f"{w}x{h} green {100 * green // n}% white {100 * white // n}%")
sys.exit(0 if green * 200 >= n else 1)
PY
}
wait_page() {	# file.png: until the screenshot shows the page (bounded)
	local i
	for ((i = 0; i < ${WAIT_TRIES:-240}; i++)); do
		shot "$1" >"$T/shot.txt" 2>&1 && return 0
		kill -0 "$setpriv_pid" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
descendants() {	# pid: every process under it
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done
}
cage_pid() { pgrep -u "$KU" -x cage | head -n 1; }
browser_pid() {	# the Chromium child of kiosk-session
	local s c
	s=$(pgrep -u "$KU" -f "^/bin/sh $TOP/firmware/kiosk-session" | head -n 1)
	for c in $(cat /proc/"$s"/task/*/children 2>/dev/null); do
		[ "$(readlink /proc/"$c"/exe)" = /usr/lib/chromium/chromium ] && echo "$c"
	done
}

for ((i = 0; i < 100; i++)); do [ -S "$RUN/wayland-0" ] && break; kill -0 "$setpriv_pid" 2>/dev/null || break; sleep 0.1; done
check "cage is up: its Wayland socket" test -S "$RUN/wayland-0"
[ -S "$RUN/wayland-0" ] || { sed "s/^/#   /" "$T/session.log" | tail -n 20; done_testing; exit 1; }
first=$LOGS/kiosk-first-screen.png
rm -f "$first"
# Under a full check's load (three lanes of sanitizer builds) Chromium has
# kept a white window for two minutes, at the first start and once after
# the SIGKILL below: after 60 s without the page the test ends that browser,
# the session starts another (as it does in service), and that one must
# show the page. Said in the log when it happens.
page_shown() {	# file.png
	WAIT_TRIES=120 wait_page "$1" && return 0
	[ -n "$(browser_pid)" ] || return 1
	echo "# no page after 60 s ($(cat "$T/shot.txt" 2>/dev/null)): Chromium ended, the session starts another"
	kill "$(browser_pid)" 2>/dev/null
	sleep 2
	wait_page "$1"
}
shown=0
page_shown "$first" && shown=1
if [ "$shown" = 1 ]; then
	ok "the first screen shows the station's page ($(cat "$T/shot.txt"); test-logs/kiosk-first-screen.png)"
else
	not_ok "the first screen shows the station's page ($(cat "$T/shot.txt" 2>/dev/null))"
	tail -n 20 "$T/session.log" | sed 's/^/#   /'
fi
cage=$(cage_pid)
old=$(browser_pid)
check "Chromium runs as kiosk-session's child" test -n "$old"
others=$(for p in $(descendants "$cage"); do readlink /proc/"$p"/exe; done | sort -u |
    grep -vxE '/usr/lib/chromium/chromium|/usr/bin/dash|/usr/bin/Xwayland|/usr/bin/sleep' | tr '\n' ' ')
check_eq "under cage runs only the session script and Chromium" "" "$others"

kill -9 "$old"
for ((i = 0; i < 100; i++)); do [ -d /proc/"$old" ] || break; sleep 0.1; done
check "the browser is gone after SIGKILL" test ! -d /proc/"$old"
new=
for ((i = 0; i < 200; i++)); do
	new=$(browser_pid)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
check "kiosk-session starts Chromium again (pid $old -> ${new:-none})" test -n "$new" -a "$new" != "$old"
if page_shown "$T/again.png"; then ok "the page is on the screen again ($(cat "$T/shot.txt"))"
else not_ok "the page is on the screen again ($(cat "$T/shot.txt" 2>/dev/null))"; fi
check_eq "inside the same cage (the compositor did not end)" "$cage" "$(cage_pid)"

# The managed policy as shipped: every URL blocked but the station's,
# developer tools, downloads, printing and file dialogs off.
check_eq "Chromium's policy: only the station's URL, no devtools, downloads, printing, file dialogs" \
    "['*'] ['http://127.0.0.1:8410'] 2 3 False False" \
    "$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["URLBlocklist"], p["URLAllowlist"], p["DeveloperToolsAvailability"], p["DownloadRestrictions"], p["PrintingEnabled"], p["AllowFileSelectionDialogs"])' "$TOP/firmware/chromium-kiosk-policy.json")"
done_testing
