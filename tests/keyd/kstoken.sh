# kstoken.sh: a fresh SoftHSM2 token for shell tests of keyd. Source it.
#   kstoken_init DIR LABEL PIN   make DIR/softhsm2.conf + DIR/tokens, export
#                                SOFTHSM2_CONF, init the token, write DIR/pin
#                                (mode 600, no newline: the bytes keyd reads)
# Tests only: the PIN goes on softhsm2-util's argv.
KSTOKEN_MODULE=/usr/lib/softhsm/libsofthsm2.so

kstoken_init() {
	local dir=$1 label=$2 pin=$3
	mkdir -p "$dir/tokens" || return 1
	export SOFTHSM2_CONF=$dir/softhsm2.conf
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$dir/tokens" >"$SOFTHSM2_CONF" || return 1
	softhsm2-util --init-token --free --label "$label" --pin "$pin" \
	    --so-pin "so-$RANDOM$RANDOM" >"$dir/softhsm.log" 2>&1 || return 1
	(umask 077; printf '%s' "$pin" >"$dir/pin")
}
