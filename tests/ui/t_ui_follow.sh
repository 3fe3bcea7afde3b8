#!/bin/bash
# The kiosk's operation follower in node (tests/ui/follow_unit.mjs): the
# count of followed operations that keeps the kiosk's idle timer from going
# home in the middle of a long issuance (kiosk-ui/js/app.js).
if ! command -v node >/dev/null; then
	echo "# skipped: node (make deps) first"
	exit 77
fi
node --no-warnings "$TOP/tests/ui/follow_unit.mjs" "$TOP/kiosk-ui/js/api.js"
