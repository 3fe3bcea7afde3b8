#!/bin/bash
# Encrypted backup and restore of the inventory (docs/daemon.md, "Backup and
# restore"): a key pair from `cardmgr backup-keygen`; holders, an issued card
# and their audit entries; `cardmgr backup` while the daemon runs (once quiet,
# once while holders are being added); `cardmgr restore` with the secret key
# into a fresh state directory; a daemon started on the restored state lists
# the same holders and cards (through the CLI), its audit log begins with the
# original's entries and `cardmgr audit verify` says intact. Refused and
# changing nothing: a flipped byte (in the stream, in the sealed key), a
# truncated file, a wrong key, a secret key others may read, a non-empty
# target directory, a backup by a role without custody.
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/daemon/stationenv.sh"
stationenv_init "$0" "$@" || { echo "not ok 1 - station environment"; exit 1; }
. "$TOP/tests/drivers/lib.sh"
. "$TOP/tests/daemon/lib.sh"
PIN=461937
canon() {	# file key -> the sorted list j[key], one JSON line
	python3 -c 'import json,sys; print(json.dumps(sorted(json.load(open(sys.argv[1]))[sys.argv[2]], key=lambda x: json.dumps(x, sort_keys=True)), sort_keys=True))' "$1" "$2"
}
restore() {	# key in dir -> cardmgr restore's exit status
	"$BIN/cardmgr" restore --key "$1" --in "$2" --state-dir "$3" --user cardmgr-engine
}
intact() {
	cm auditor --json audit verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["intact"])'
}

# --- the key pair
check "backup-keygen writes a key pair" "$BIN/cardmgr" backup-keygen --out "$T/bk"
check_eq "the secret key is mode 600, the public one 644" "600 644" \
    "$(stat -c %a "$T/bk/backup.key") $(stat -c %a "$T/bk/backup.pub")"
check_fails "backup-keygen never overwrites a key" "$BIN/cardmgr" backup-keygen --out "$T/bk"
mkdir -p "$T/bk2"
"$BIN/cardmgr" backup-keygen --out "$T/bk2" >/dev/null
check_fails "no backup before it is configured (backups off)" cm admin backup

# --- the station, configured for backups (the public key only)
daemon_stop
cp "$T/bk/backup.pub" "$T/etc/backup.pub"
chmod 644 "$T/etc/backup.pub"
cp "$T/etc/cardmgrd.conf" "$T/cardmgrd.conf.orig"
cat >>"$T/etc/cardmgrd.conf" <<CONF
backup_dir = "$T/backups";
backup_public_key = "$T/etc/backup.pub";
CONF
echo 'backup_dir = "/x";' >"$T/half.conf"
"$BIN/cardmgrd" -n -c "$T/half.conf" 2>"$T/half.err"
check_grep "cardmgrd -n: backup_dir without backup_public_key is refused" 'go together' "$T/half.err"
check "cardmgrd -n accepts the backup settings" "$BIN/cardmgrd" -n -c "$T/etc/cardmgrd.conf"
daemon_start
check_eq "the daemon made the backup directory, the engine's, mode 700" "cardmgr-engine 700" \
    "$(stat -c '%U %a' "$T/backups")"

# --- holders, a card, their audit entries
for h in E100:Jane E200:Bob E300:Carla; do
	cm officer holders add --id "${h%%:*}" --name "${h#*:} Backupson" >/dev/null
done
vcard_insert 0 "$T/c0.state" --create --serial 7001 >/dev/null
check_eq "a card issued to E100" done "$(wait_op "$(issue_temp "$R" 7001 "$PIN")")"
cm auditor --json holders list >"$T/h1.json"
cm auditor --json cards list >"$T/c1.json"
cm auditor --json audit show --limit 1000 >"$T/a1.json"
check_eq "3 holders and 1 card to back up" "3 1" \
    "$(json "$T/h1.json" 'len(j["holders"])') $(json "$T/c1.json" 'len(j["cards"])')"

# --- backup, while the daemon runs
check_fails "an auditor may not take a backup" cm auditor backup
check_fails "a badge officer may not take a backup" cm officer backup
cm admin --json backup >"$T/b1.json"
check_grep "the administrator takes a backup: its file name" '"file": *"inventory-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\.cmbk"' "$T/b1.json"
if ! json "$T/b1.json" 'j["file"]' >/dev/null 2>&1; then	# nothing below can pass: say why and stop
	sed 's/^/#   /' "$T/cardmgrd.log" | tail -n 40
	done_testing; exit 1
fi
B1=$T/backups/$(json "$T/b1.json" 'j["file"]')
check_eq "the answer's size and sha256 are the file's" \
    "$(stat -c %s "$B1") $(sha256sum "$B1" | cut -d' ' -f1)" \
    "$(json "$T/b1.json" 'j["size"]') $(json "$T/b1.json" 'j["sha256"]')"
check_eq "the backup is the engine's, mode 600" "cardmgr-engine 600" "$(stat -c '%U %a' "$B1")"
check_eq "nothing of the inventory in clear in it (holder names, card serial)" 0 \
    "$(grep -ac -e Backupson -e 'E200' "$B1")"
check_eq "no temporary file left in the backup directory" 1 "$(ls -A "$T/backups" | wc -l)"
check_grep "the backup is audited, by name" "\"backup.ok\".*$(basename "$B1")|$(basename "$B1").*\"backup.ok\"" \
    <(cm auditor --json audit show --limit 1000 | python3 -c 'import json,sys; [print(json.dumps(e)) for e in json.load(sys.stdin)["entries"]]')
check "a security officer may take one too" cm security backup

# A second backup while holders are being added: one read transaction.
( for i in $(seq 1 30); do cm officer holders add --id "W$i" --name "Writer $i" >/dev/null 2>&1; done ) &
wpid=$!
sleep 0.2
cm admin --json backup >"$T/b2.json"
wait $wpid
B2=$T/backups/$(json "$T/b2.json" 'j["file"]')
check "a backup taken during writes" test -s "$B2"

# --- restore refusals: each changes nothing
mkdir -p "$T/full"; echo keep >"$T/full/x"
check_fails "restore into a non-empty directory is refused" restore "$T/bk/backup.key" "$B1" "$T/full"
check_eq "and the directory is unchanged" "x" "$(ls -A "$T/full" | tr '\n' ' ' | sed 's/ $//')"
flip() {	# in out offset
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); o=int(sys.argv[3]) % len(b); b[o]^=1; open(sys.argv[2],"wb").write(b)' "$@"
}
flip "$B1" "$T/flip-stream.cmbk" $(( $(stat -c %s "$B1") / 2 ))
flip "$B1" "$T/flip-key.cmbk" 40
flip "$B1" "$T/flip-last.cmbk" -1
head -c $(( $(stat -c %s "$B1") - 100 )) "$B1" >"$T/trunc.cmbk"
n=0
for f in flip-stream flip-key flip-last trunc; do
	n=$((n + 1))
	restore "$T/bk/backup.key" "$T/$f.cmbk" "$T/r$n" 2>"$T/r$n.err"
	check_eq "$f: refused (exit 4), nothing left in the target" "4 0" "$? $(ls -A "$T/r$n" | wc -l)"
done
check_grep "a flipped byte is named as an altered file" 'altered' "$T/r1.err"
restore "$T/bk2/backup.key" "$B1" "$T/r5" 2>"$T/r5.err"
check_eq "a wrong key is refused (exit 4), nothing restored" "4 0" "$? $(ls -A "$T/r5" | wc -l)"
check_grep "and says the key does not open it" 'does not open' "$T/r5.err"
cp "$T/bk/backup.key" "$T/loose.key"; chmod 644 "$T/loose.key"
check_fails "a secret key others may read is refused" restore "$T/loose.key" "$B1" "$T/r6"

# --- restore onto a new station's state directory, start it there
check "restore with the secret key into a fresh directory" restore "$T/bk/backup.key" "$B1" "$T/inv2"
check_eq "data.mdb, the engine's, mode 600" "cardmgr-engine 600" "$(stat -c '%U %a' "$T/inv2/data.mdb")"
daemon_stop
sed "s|^state_dir = .*|state_dir = \"$T/inv2\";|" "$T/etc/cardmgrd.conf" >"$T/c2" && cat "$T/c2" >"$T/etc/cardmgrd.conf"
check "a daemon starts on the restored state" daemon_start
cm auditor --json holders list >"$T/h2.json"
cm auditor --json cards list >"$T/c2.json"
cm auditor --json audit show --limit 1000 >"$T/a2.json"
check_eq "the same holders" "$(canon "$T/h1.json" holders)" "$(canon "$T/h2.json" holders)"
check_eq "the same cards" "$(canon "$T/c1.json" cards)" "$(canon "$T/c2.json" cards)"
check_eq "its audit log begins with every original entry, unchanged" True \
    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["entries"]; b=json.load(open(sys.argv[2]))["entries"]; print(len(a) > 0 and b[:len(a)] == a)' "$T/a1.json" "$T/a2.json")"
check_eq "audit verify: intact" True "$(intact)"
check "the restored station takes new holders" cm officer holders add --id E400 --name "After Restore"
check_eq "and its chain is still intact" True "$(intact)"

# --- the backup taken during writes is a consistent snapshot too
check "restore the backup taken during writes" restore "$T/bk/backup.key" "$B2" "$T/inv3"
daemon_stop
sed -i "s|^state_dir = .*|state_dir = \"$T/inv3\";|" "$T/etc/cardmgrd.conf"
check "a daemon starts on it" daemon_start
check_eq "audit verify: intact" True "$(intact)"
nw=$(cm auditor --json holders list | python3 -c 'import json,sys; print(len([h for h in json.load(sys.stdin)["holders"] if h["id"].startswith("W")]))')
check "it holds the original holders and between 0 and 30 writers ($nw)" test "$nw" -ge 0 -a "$nw" -le 30
daemon_stop
done_testing
