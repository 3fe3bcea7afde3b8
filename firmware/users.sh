#!/bin/sh
# The station's service users, one per process of cardmgrd (see
# docs/daemon.md): created if missing, never changed if present. Run as root
# by `make demo`, by the daemon tests, and (later) by the package's postinst.
set -e
for u in cardmgr-api cardmgr-engine cardmgr-keyd; do
	if ! getent passwd "$u" >/dev/null; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin --user-group "$u"
	fi
done
