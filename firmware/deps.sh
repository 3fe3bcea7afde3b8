#!/bin/sh
# Install the Debian packages in firmware/packages.txt that are not installed yet.
# Fast when nothing is missing; apt-get update runs only when something is.
#   deps.sh           install what is missing
#   deps.sh --check   only list what is missing; exit 1 if anything is
# DEPS_LIST overrides the package list (used by the tests).
set -eu
list=${DEPS_LIST:-"$(dirname "$0")/packages.txt"}
[ -r "$list" ] || { echo "deps: cannot read $list" >&2; exit 2; }
want=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")
missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$s" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "${1:-}" = --check ]; then
	echo "deps: missing:$missing"
	exit 1
fi
echo "deps: installing missing packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; install them with: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
