#!/bin/sh
# The station's service users, one per process of cardmgrd (see
# docs/daemon.md), or the users named as arguments (the kiosk package's
# postinst: cardmgr-kiosk): created if missing, never changed if present.
# Run as root by `make demo`, by the daemon tests, and by the packages'
# postinst (firmware/debian).
set -e
[ $# -gt 0 ] || set -- cardmgr-api cardmgr-engine cardmgr-keyd
for u in "$@"; do
	if ! getent passwd "$u" >/dev/null; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin --user-group "$u"
	fi
done
