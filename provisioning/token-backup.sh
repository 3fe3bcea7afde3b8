#!/bin/bash
# token-backup.sh backup|restore|check CONF [DIR]
#
# Backup and restore of the station token when it is SoftHSM2's file store
# (the default). SoftHSM2 2.6 rewrites token.object in place at every login;
# a kill or a power cut inside that write leaves an empty file and the token
# is gone ("station token damaged or missing", cardmgr-ca exit 5). The
# token directory holds the station's CA key, and for the daemon its master
# keys and key recovery key too: keep a copy (docs/keystore.md, "Backup").
#
#   backup   copy the token directory to DIR/tokens, replacing an older copy
#            only once the new one has been checked (the token with CONF's
#            label is initialised in it; no login, so nothing is written)
#   restore  move the damaged token directory aside (TOKENDIR.damaged.TIME)
#            and put DIR/tokens back; stop cardmgrd first
#   check    exit 0 if the token with CONF's label is present and whole (with
#            DIR: the one in the backup DIR/tokens)
#
# DIR defaults to STATE_DIR/token-backup. The token directory is SoftHSM2's
# directories.tokendir, from $SOFTHSM2_CONF or /etc/softhsm/softhsm2.conf.
# The files are encrypted under the user PIN (SoftHSM2 wraps its token key
# with a key derived from it); the copy is still kept mode 0700, root only.
# Other PKCS#11 modules (a USB HSM) are refused: use the vendor's backup.
set -u
what=${1:?usage: token-backup.sh backup|restore|check CONF [DIR]}
conf=${2:?usage: token-backup.sh backup|restore|check CONF [DIR]}
die() { echo "token-backup: $*" >&2; exit 1; }
val() { sed -n "s/^$1 *= *\([^ #]*\).*/\1/p" "$2" | tail -n 1; }

state=$(val state_dir "$conf")
label=$(val token "$conf")
module=$(val pkcs11_module "$conf")
dir=${3:-$state/token-backup}
case $module in
*libsofthsm2.so) ;;
*) die "$module is not SoftHSM2: back the token up with its vendor's tools" ;;
esac
hsmconf=${SOFTHSM2_CONF:-/etc/softhsm/softhsm2.conf}
tokendir=$(val directories.tokendir "$hsmconf")
tokendir=${tokendir%/}
[ -n "$tokendir" ] && [ -d "$tokendir" ] || die "no token directory in $hsmconf"
[ -n "$label" ] || die "$conf names no token"

# Is the token labelled $label initialised in token directory $1? Asked of
# SoftHSM2 itself through a configuration pointing there, without a login.
whole() {
	local c
	c=$(mktemp) || return 1
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$1" >"$c"
	SOFTHSM2_CONF=$c softhsm2-util --show-slots 2>/dev/null | awk -v want="$label" '
	    /Initialized:/ { init = ($2 == "yes") }
	    /Label:/ { l = $0; sub(/^[ \t]*Label:[ \t]*/, "", l); sub(/[ \t]+$/, "", l)
		if (init && l == want) found = 1 }
	    END { exit !found }'
	local rc=$?
	rm -f "$c"
	return $rc
}

case $what in
check)
	if [ $# -ge 3 ]; then tokendir=$dir/tokens; fi
	whole "$tokendir" || die "station token '$label' damaged or missing in $tokendir"
	echo "token '$label' in $tokendir is whole"
	;;
backup)
	whole "$tokendir" || die "station token '$label' damaged or missing in $tokendir: not backed up (the old backup is kept)"
	mkdir -p "$dir" && chmod 700 "$dir" || die "cannot create $dir"
	rm -rf "$dir/tokens.new"
	cp -a "$tokendir" "$dir/tokens.new" || die "copy to $dir failed"
	whole "$dir/tokens.new" || die "the copy in $dir does not hold the token: old backup kept"
	sync
	rm -rf "$dir/tokens.old"
	if [ -d "$dir/tokens" ]; then mv "$dir/tokens" "$dir/tokens.old" || exit 1; fi
	mv "$dir/tokens.new" "$dir/tokens" || die "cannot install the new backup"
	rm -rf "$dir/tokens.old"
	echo "token '$label' backed up to $dir/tokens"
	;;
restore)
	[ -d "$dir/tokens" ] || die "no backup in $dir"
	whole "$dir/tokens" || die "the backup in $dir does not hold token '$label'"
	aside=$tokendir.damaged.$(date +%Y%m%d%H%M%S)
	mv "$tokendir" "$aside" || die "cannot move $tokendir aside"
	if ! cp -a "$dir/tokens" "$tokendir"; then
		rm -rf "$tokendir"; mv "$aside" "$tokendir"
		die "restore failed; nothing changed"
	fi
	sync
	echo "token '$label' restored from $dir; the damaged one is in $aside"
	;;
*)
	die "unknown command $what (backup, restore or check)"
	;;
esac
