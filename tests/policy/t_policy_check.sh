# cardmgr-policy-check, the check-only mode over profiles and the operator
# map (prof_check_config): the shipped files pass; each kind of mistake is
# reported as file:line on stderr with a non-zero exit, and all of them at
# once, not only the first.
. "$TOP/tests/lib/tap.sh"
PC=$BIN/cardmgr-policy-check
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/p"
cp "$TOP"/provisioning/profiles/* "$T/p/"
cp "$TOP/provisioning/operators.conf.example" "$T/operators.conf"
chmod 0755 "$T/p"
chmod 0644 "$T"/p/* "$T/operators.conf"

check "shipped profiles and operator map pass" "$PC" "$T/p" "$T/operators.conf"
cp "$TOP/provisioning/lifecycle.conf" "$T/lifecycle.conf"
chmod 0644 "$T/lifecycle.conf"
check "and the shipped lifecycle" "$PC" "$T/p" "$T/operators.conf" "$T/lifecycle.conf"
sed -i 's/effect = "hold";//' "$T/lifecycle.conf"
"$PC" "$T/p" "" "$T/lifecycle.conf" 2>"$T/lerr"
check_eq "a lifecycle transition without its effect exits 1" 1 $?
check_grep "naming its file and line" \
    "/lifecycle\\.conf:$(grep -n 'name = "suspend"' "$T/lifecycle.conf" | cut -d: -f1): transition suspend: no effect" "$T/lerr"
check_grep "it says so" '^configuration OK$' <("$PC" "$T/p" 2>&1)
# Profiles against the lifecycle: a contractor's temporary card that no role
# may issue (the shipped temporary profile once let only badge officers and
# the help desk issue, the contractor profile only security officers ask).
cp "$TOP/provisioning/lifecycle.conf" "$T/lifecycle.conf"
sed -i 's/^  issue = \[ "badge_officer", "helpdesk", "security_officer" \];/  issue = [ "badge_officer", "helpdesk" ];/' "$T/p/temporary.conf"
"$PC" "$T/p" "" "$T/lifecycle.conf" 2>"$T/rerr"
check_eq "an operation no role may run exits 1" 1 $?
check_grep "naming the profile, the operation and every side" \
    "/contractor\\.conf: roles\\.temporary = \\[security_officer\\]: no role may run it: the lifecycle's 'forgotten' allows \\[badge_officer, security_officer\\] and the temporary profile's issue \\[badge_officer, helpdesk\\]" "$T/rerr"
check_grep "and what kind of error it is" '^1 error \(profiles and lifecycle disagree\)' "$T/rerr"
n=$(grep -n 'name = "retire"' "$T/lifecycle.conf" | cut -d: -f1)
sed -i "$n,$((n + 2))s/roles = \[[^]]*\]/roles = [ \"helpdesk\" ]/" "$T/lifecycle.conf"
cp "$TOP/provisioning/profiles/temporary.conf" "$T/p/temporary.conf"
"$PC" "$T/p" "" "$T/lifecycle.conf" 2>"$T/rerr"
check_grep "a lifecycle transition narrowed: the profiles it strands" \
    "/contractor\\.conf: roles\\.retire = \\[security_officer\\]: no role may run it: the lifecycle's 'retire' allows \\[helpdesk\\]$" "$T/rerr"
cp "$TOP/provisioning/lifecycle.conf" "$T/lifecycle.conf"
check "the shipped files together pass" "$PC" "$T/p" "" "$T/lifecycle.conf"
to_gone_reader "$PC" "$T/p" 2>"$T/gone.err"
check_eq "stdout closed by its reader: exit 1, not 141 (SIGPIPE)" 1 $?
check_grep "and says the output was lost" 'cardmgr-policy-check: output lost: cannot write to standard output$' "$T/gone.err"
"$PC" >"$T/usage.out" 2>&1
check_eq "no argument is a usage error (exit 2)" 2 $?

# Three mistakes in two files and one in the operator map.
sed -i 's/^pin_retries = 3;/pin_retries = 12;/; s/^  retire = \[ "badge_officer", "security_officer" \];/  retire = [ "badge_oficer" ];/' "$T/p/employee.conf"
sed -i 's/cert_days = 7;/cert_days = 31;/' "$T/p/temporary.conf"
sed -i 's/"helpdesk" \]/"help_desk" ]/' "$T/operators.conf"
"$PC" "$T/p" "$T/operators.conf" 2>"$T/err"
check_eq "errors exit 1" 1 $?
sed 's/^/#   /' "$T/err"
check_grep "out-of-range retries, with its line" \
    "/employee\\.conf:$(grep -n '^pin_retries' "$T/p/employee.conf" | cut -d: -f1): pin_retries = 12 is out of range 1\\.\\.10" "$T/err"
check_grep "misspelt role, with its line" \
    "/employee\\.conf:$(grep -n 'badge_oficer' "$T/p/employee.conf" | cut -d: -f1): roles\\.retire: unknown role \"badge_oficer\"" "$T/err"
check_grep "certificate outliving the card" \
    "/temporary\\.conf:[0-9]+: cert_days 31 outlives the card" "$T/err"
check_grep "operator map error" "/operators\\.conf:[0-9]+: unknown role \"help_desk\"" "$T/err"
check_grep "the count of errors ends the report" '^5 errors' "$T/err"

# Permissions: a profile others may write is refused by name.
cp "$TOP/provisioning/profiles/employee.conf" "$T/p/employee.conf"
cp "$TOP/provisioning/profiles/temporary.conf" "$T/p/temporary.conf"
chmod 0644 "$T"/p/*
check "repaired files pass again" "$PC" "$T/p"
chmod 0666 "$T/p/contractor.conf"
"$PC" "$T/p" 2>"$T/err"
check_eq "world-writable profile: exit 1" 1 $?
check_grep "and named" "/contractor\\.conf: writable by group or others" "$T/err"
done_testing
