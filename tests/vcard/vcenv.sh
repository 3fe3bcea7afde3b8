# Sourced by tests/vcard/t_*.sh: TAP helpers, a private pcscd with virtual
# readers (the test re-executes itself in its own namespaces, see
# tests/lib/pcscenv.sh), the scratch directory $T as the working directory,
# and MGM, the factory management key of a new card.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$TOP/build/asan/bin}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/pcscenv.sh"
pcscenv_init "$0" "$@" || exit 1
cd "$T" || exit 1
MGM=010203040506070801020304050607080102030405060708
