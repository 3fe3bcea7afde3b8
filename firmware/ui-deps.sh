#!/bin/sh
# Install the kiosk UI's pinned npm packages (make ui-deps): the runtime
# libraries the pages load (kiosk-ui/package-lock.json: libsodium-wrappers)
# and the UI tests' tools (tests/ui/package-lock.json: playwright-core,
# axe-core). `npm ci` installs exactly the lockfile, integrity-checked;
# node_modules is not in git. Fast when a tree already matches its lockfile
# (a stamp holds the lockfile's hash). The browser is Debian's chromium
# (firmware/packages.txt), never one npm would download.
#   ui-deps.sh            install what does not match
#   ui-deps.sh --check    exit 1 if a tree does not match its lockfile
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
need=""
for d in kiosk-ui tests/ui; do
	want=$(sha256sum "$top/$d/package-lock.json" | cut -d' ' -f1)
	have=$(cat "$top/$d/node_modules/.cardmgr-lock" 2>/dev/null || true)
	[ "$want" = "$have" ] || need="$need $d"
done
[ -z "$need" ] && exit 0
if [ "${1:-}" = --check ]; then
	echo "ui-deps: not installed:$need"
	exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
	# Debian's nodejs has no npm; a nodejs that brings its own must not be
	# replaced, so npm is installed only when no npm is there.
	echo "ui-deps: installing Debian's npm"
	[ "$(id -u)" = 0 ] || { echo "ui-deps: not root; apt-get install npm" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi
for d in $need; do
	echo "ui-deps: npm ci in $d"
	(cd "$top/$d" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
	sha256sum "$top/$d/package-lock.json" | cut -d' ' -f1 >"$top/$d/node_modules/.cardmgr-lock"
done
