# README starts with exactly the two set-up commands; `make help` lists only real
# targets; every folder of the fixed layout says what lives there.
. "$TOP/tests/lib/tap.sh"
cd "$TOP" || exit 1
check_eq "README opens with a code block" '```sh' "$(sed -n 1p README.md)"
check_grep "first command is make demo" '^make demo ' <(sed -n 2p README.md)
check_grep "second command is make check" '^make check ' <(sed -n 3p README.md)
check_eq "and nothing else in that block" '```' "$(sed -n 4p README.md)"
for t in $(make -s help | awk '{print $1}'); do
	check "make help target '$t' exists" grep -qE "^$t:" Makefile
done
for t in deps all demo check bench fuzz clean help; do
	check_grep "make help mentions $t" "^$t " <(make -s help)
done
for d in firmware cardmgr drivers kiosk-ui provisioning tests; do
	check "$d/README.md exists" test -s "$d/README.md"
done
check ".ci/run runs make check" grep -q '^exec make check$' .ci/run
done_testing
