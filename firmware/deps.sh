#!/bin/sh
# Install the Debian packages in firmware/packages.txt that are not installed yet.
# Fast when nothing is missing (one dpkg-query); apt-get update runs only when needed.
set -eu
list="$(dirname "$0")/packages.txt"
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
echo "deps: installing missing packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; install them with: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
