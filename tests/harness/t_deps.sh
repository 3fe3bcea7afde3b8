# make deps: finds missing packages from the one list, installs nothing in --check mode.
. "$TOP/tests/lib/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check "the real package list is fully installed" "$TOP/firmware/deps.sh" --check

printf '# comment\nbash   # inline comment\n\ncardstation-no-such-package\n' >"$tmp/list"
out=$(DEPS_LIST=$tmp/list "$TOP/firmware/deps.sh" --check 2>&1); rc=$?
check_eq "a missing package makes --check exit 1" 1 "$rc"
check_eq "only the missing package is listed" "deps: missing: cardstation-no-such-package" "$out"

printf 'bash\ncoreutils\n' >"$tmp/list"
check "nothing missing: exit 0 without apt" env DEPS_LIST="$tmp/list" PATH=/nonexistent:/usr/bin:/bin \
    "$TOP/firmware/deps.sh"
check_fails "an unreadable list is an error" env DEPS_LIST="$tmp/none" "$TOP/firmware/deps.sh" --check
check "every package in the list exists in the archive" \
    bash -c "sed -e 's/#.*//' -e '/^[[:space:]]*\$/d' '$TOP/firmware/packages.txt' | xargs dpkg-query -W >/dev/null"
done_testing
