#!/bin/bash
# t_deb: the station's Debian package (`make deb`, firmware/debian) in a
# fresh Debian 12 chroot, from the project's own files: mmdebstrap (minbase)
# makes the root, apt installs the .deb there with the dependencies it
# declares; then, in private namespaces (pcscd with a virtual reader, the
# test CA behind nginx), the chroot is provisioned as a station would be
# (token, ca.conf, enrollment with the packaged cardmgr-ca, operator map) and
# the packaged cardmgrd runs there: configuration checked, a card issued
# against the test CA and read back with yubico-piv-tool outside the chroot.
#
# The chroot is build/t_deb/root (removed after, KEEP=1 keeps it); the .debs
# and package lists apt downloads are kept in build/aptcache and
# build/aptlists, so a second run in the same tree downloads only what
# changed. Needs the Debian mirror the machine uses (the host's sources).
. "$TOP/tests/lib/tap.sh"
R=$TOP/build/t_deb/root
DEB=$TOP/build/deb
CACHE=$TOP/build/aptcache

# ---- outside the namespaces: the package and the chroot (network needed)
if [ -z "${TDEB_INNER:-}" ]; then
	t0=$SECONDS
	mkdir -p "$TOP/build/t_deb" "$CACHE"
	log=$TOP/build/t_deb/outer.log
	if bash "$TOP/firmware/mkdeb.sh" "$DEB" >"$log" 2>&1; then
		ok "make deb: $(ls "$DEB"/*.deb | xargs -n1 basename | tr '\n' ' ')($(grep '^mkdeb: lintian' "$log" | sed 's/^mkdeb: //; s/ (.*//'))"
	else
		not_ok "make deb"; sed 's/^/#   /' "$log" | tail -n 20
		done_testing; exit 1
	fi
	deb=$(ls "$DEB"/cardmgr_*_amd64.deb)
	src=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	rm -rf "$R"
	# minbase, no documentation or translations unpacked (but the
	# station's own man pages and docs, which the test checks); apt
	# installs the .deb from inside the chroot, resolving what it declares.
	mkdir -p "$TOP/build/aptlists"
	if nice mmdebstrap --variant=minbase --include=ca-certificates \
	    --dpkgopt=force-unsafe-io \
	    --dpkgopt='path-exclude=/usr/share/locale/*' \
	    --dpkgopt='path-exclude=/usr/share/man/*' \
	    --dpkgopt='path-include=/usr/share/man/man*/cardmgr*' \
	    --dpkgopt='path-exclude=/usr/share/doc/*' \
	    --dpkgopt='path-include=/usr/share/doc/cardmgr/*' \
	    --skip=essential/unlink \
	    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/ "$1"/var/lib/apt/lists/' \
	    --setup-hook="sync-in $CACHE /var/cache/apt/archives/" \
	    --setup-hook="sync-in $TOP/build/aptlists /var/lib/apt/lists/" \
	    --customize-hook="copy-in $deb /tmp" \
	    --customize-hook="chroot \"\$1\" apt-get install -y --no-install-recommends /tmp/${deb##*/} softhsm2" \
	    --customize-hook="sync-out /var/cache/apt/archives $CACHE" \
	    --customize-hook="sync-out /var/lib/apt/lists $TOP/build/aptlists" \
	    bookworm "$R" "deb ${src:-http://deb.debian.org/debian} bookworm main" \
	    >>"$log" 2>&1; then
		ok "a fresh Debian 12 minbase chroot installs ${deb##*/} and what it depends on ($((SECONDS - t0))s so far)"
	else
		not_ok "mmdebstrap + apt-get install of the package"; tail -n 20 "$log" | sed 's/^/#   /'
		done_testing; exit 1
	fi
	TDEB_INNER=1 TDEB_N=$t_n TDEB_T0=$(($(date +%s) - SECONDS + t0)) PCSCENV_INNER=1 CAENV_INNER=1 \
	    unshare --mount --net --pid --fork --mount-proc --propagation private \
	    bash "$0" "$@"
	rc=$?
	# The namespace and its mounts into the chroot are gone: only now is
	# removing it safe.
	[ -n "${KEEP:-}" ] && echo "# kept $R" || rm -rf "$R"
	exit $rc
fi

# ---- inside: private mount, network and PID namespaces
t_n=$TDEB_N
mkdir -p /run/pcscd
. "$TOP/tests/lib/pcscenv.sh"
. "$TOP/tests/ca/caenv.sh"
PCSCENV_READERS=2 pcscenv_init "$0" "$@" || { not_ok "pcscd with virtual readers"; done_testing; exit 1; }
export PKI=$T/ca
mkdir -p "$T/nginx"
printf '127.0.0.1 localhost ca.test other.test\n' >"$T/hosts"
mount --bind "$T/hosts" /etc/hosts
(umask 077; bash "$TOP/tests/ca/mkpki.sh" "$PKI" >"$T/mkpki.log" 2>&1) &&
    ca_start && nginx_start || { not_ok "test CA"; done_testing; exit 1; }

inroot() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    SOFTHSM2_CONF=/etc/cardmgr/softhsm2.conf "$@"; }
as_uid() { local u=$1; shift; chroot --userspec="$u:$u" "$R" env -i PATH=/usr/bin:/bin "$@"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
perm() { inroot stat -c '%a %U %G' "$1"; }

# ---- what the package and its postinst left
check_eq "postinst made the service users (nologin, no home)" \
    "cardmgr-api:/nonexistent:/usr/sbin/nologin cardmgr-engine:/nonexistent:/usr/sbin/nologin cardmgr-keyd:/nonexistent:/usr/sbin/nologin" \
    "$(for u in cardmgr-api cardmgr-engine cardmgr-keyd; do inroot getent passwd $u | cut -d: -f1,6,7; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "the inventory directory: 700 cardmgr-engine" "700 cardmgr-engine cardmgr-engine" "$(perm /var/lib/cardmgr)"
check_eq "the token directory: 700 cardmgr-keyd" "700 cardmgr-keyd cardmgr-keyd" "$(perm /var/lib/cardmgr-token)"
check_eq "the CA link's state: 700 cardmgr-engine" "700 cardmgr-engine cardmgr-engine" "$(perm /var/lib/station/ca)"
check_eq "keyd's ledger directory: 700 root" "700 root root" "$(perm /var/lib/cardmgr-keyd)"
for f in /usr/sbin/cardmgrd /usr/sbin/cardmgr-selftest /usr/bin/cardmgr /usr/bin/cardmgr-ca \
    /lib/systemd/system/cardmgrd.service /usr/lib/tmpfiles.d/cardmgrd.conf \
    /usr/share/man/man8/cardmgrd.8.gz /usr/share/man/man5/cardmgrd.conf.5.gz \
    /usr/share/man/man1/cardmgr.1.gz /usr/share/man/man1/cardmgr-ca.1.gz \
    /usr/share/cardmgr/kiosk-ui/README.md /usr/share/cardmgr/apt/cardmgr.sources \
    /etc/cardmgr/profiles/employee.conf /etc/cardmgr/lifecycle.conf; do
	[ -e "$R$f" ] || miss="$miss $f"
done
check_eq "binaries, unit, tmpfiles, man pages, kiosk UI, profiles installed" "" "${miss:-}"
check_eq "every /etc/cardmgr file is a conffile" \
    "$(cd "$R" && find etc/cardmgr -type f | sed 's|^|/|' | sort | tr '\n' ' ')" \
    "$(sort "$R"/var/lib/dpkg/info/cardmgr.conffiles | tr '\n' ' ')"

# ---- provisioning, as a station's first start does it
mkdir -p "$R/etc/cardmgr/ca" "$R/run/pcscd" "$R/run/cardmgr"
chmod 755 "$R/run/cardmgr"
mount --bind /run/pcscd "$R/run/pcscd"
mount -t proc proc "$R/proc"
cp "$T/hosts" "$R/etc/hosts"
cp "$PKI/root.crt" "$PKI/ca.crt" "$R/etc/cardmgr/ca/"
chmod 644 "$R"/etc/cardmgr/ca/*.crt	# public anchors: the engine reads them
pin=tok-$RANDOM-$RANDOM
(umask 077; printf '%s\n' "$pin" >"$R/etc/cardmgr/token.pin")
(umask 077; cat >"$R/etc/cardmgr/ca.conf" <<CONF
server = ca.test
port = 8443
enroll_port = 8441
path = cmp
tls_trust = /etc/cardmgr/ca/root.crt
cmp_trust = /etc/cardmgr/ca/root.crt
untrusted = /etc/cardmgr/ca/ca.crt
cmp_sender = /O=Test/CN=Test Issuing CA
timeout = 10
state_dir = /var/lib/station/ca
pkcs11_module = /usr/lib/softhsm/libsofthsm2.so
token = station
pin_file = /etc/cardmgr/token.pin
key_label = station-key
subject = /O=Test/CN=station-01
renew_before = 2592000
CONF
)
check "the station token is made with the packaged softhsm2.conf" \
    inroot softhsm2-util --init-token --free --label station --pin "$pin" --so-pin 12345678
otp_add station-01 "s3cret-$RANDOM"
(umask 077; cp "$PKI/otp/station-01" "$R/root/otp")
n0=$(issued_count)
check "the packaged cardmgr-ca enrolls the station at the test CA" \
    inroot cardmgr-ca -c /etc/cardmgr/ca.conf enroll-station --ref station-01 --secret-file /root/otp
check_eq "the test CA issued its certificate" $((n0 + 1)) "$(issued_count)"
inroot chown -R cardmgr-keyd: /var/lib/cardmgr-token
inroot chown -R cardmgr-engine: /var/lib/station/ca
cat >"$R/etc/cardmgr/operators.conf" <<'OPS'
operators = (
  { uid = 2001; name = "Olivia Officer"; roles = [ "badge_officer" ]; },
  { uid = 2004; name = "Ada Auditor"; roles = [ "auditor" ]; }
);
OPS
chmod 644 "$R/etc/cardmgr/operators.conf"
inroot cardmgrd -n >"$T/n.out" 2>&1
check_grep "cardmgrd -n: the installed configuration is valid" '^configuration valid$' "$T/n.out"

# ---- the daemon, as the unit starts it (without systemd in a chroot)
# Not through the inroot function: a function in the background is a
# subshell, and $! would be the subshell, not the daemon.
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    SOFTHSM2_CONF=/etc/cardmgr/softhsm2.conf /usr/sbin/cardmgrd >>"$T/cardmgrd.log" 2>&1 &
echo $! >"$T/pids/cardmgrd"
for ((i = 0; i < 200; i++)); do
	as_uid 2004 cardmgr status >/dev/null 2>&1 && break
	sleep 0.05
done
check "the packaged cardmgrd answers the packaged cardmgr in the chroot" as_uid 2004 cardmgr status
as_uid 2004 cardmgr --json check-config >"$T/cc.json" 2>&1
check_eq "cardmgr check-config: the installed profiles, operators, lifecycle are valid" True "$(json "$T/cc.json" 'j["valid"]')"
as_uid 2004 cardmgr --json status >"$T/st.json"
check_eq "status: ready, token ok, CA link configured and not held" "ready ok True False" \
    "$(json "$T/st.json" '" ".join(str(x) for x in (j["status"], j["station_token"]["state"], j["ca"]["configured"], j["ca"]["held"]))')"
ps -eo pid,user:20,args | grep '[/]usr/sbin/cardmgrd' >"$T/ps"
check_eq "five processes: root, the three service users and keyd's PKCS#11 helper (keyd's user; chroot's uids, read by the host's ps)" \
    "cardmgr-api cardmgr-engine cardmgr-keyd cardmgr-keyd root" \
    "$(for p in $(awk '{print $1}' "$T/ps"); do u=$(stat -c %u /proc/$p); inroot getent passwd $u | cut -d: -f1 || echo "uid$u"; done | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "each with its seccomp filter on (/proc/PID/status)" "2 2 2 2 2" \
    "$(for p in $(awk '{print $1}' "$T/ps"); do awk '/^Seccomp:/ {print $2}' /proc/$p/status; done | tr '\n' ' ' | sed 's/ $//')"

# ---- a card issued through it, against the test CA
vcard_insert 0 "$T/card0.state" --create --serial 7001 >/dev/null
check "an officer adds a holder" as_uid 2001 cardmgr holders add --id E100 --name "Jane Doe"
check "and receives the blank card into stock (issuance takes only stock)" \
    as_uid 2001 cardmgr stock receive --model piv-yubico --location desk --serials 7001
printf '461937\n' >"$T/s.pin"; chmod 644 "$T/s.pin"; cp "$T/s.pin" "$R/tmp/s.pin"
n0=$(issued_count)
as_uid 2001 sh -c 'exec cardmgr --json --secrets-fd 3 issue --reader "Virtual PCD 0 00 00" --holder E100 --profile temporary 3</tmp/s.pin' >"$T/issue.json" 2>&1
op=$(json "$T/issue.json" 'j["operation"]' 2>/dev/null)
for ((i = 0; i < 240; i++)); do
	as_uid 2004 cardmgr --json op show "$op" >"$T/op.json" 2>/dev/null
	st=$(json "$T/op.json" 'j["state"]' 2>/dev/null)
	[ -n "$st" ] && [ "$st" != running ] && break
	sleep 0.25
done
check_eq "the issuance (operation ${op:-none}) ends done" done "$st"
[ "$st" = done ] || { sed 's/^/#   /' "$T/issue.json" "$T/op.json"; grep -v '^<7>' "$T/cardmgrd.log" | tail -n 20 | sed 's/^/#   /'; }
check "the test CA issued the card's certificates" test "$(issued_count)" -gt "$n0"
yubico-piv-tool -r "$(reader_name 0)" -a read-certificate -s 9a >"$T/9a.pem" 2>/dev/null
check_grep "yubico-piv-tool, outside the chroot, reads a certificate of the test CA in 9a" 'Test Issuing CA' \
    <(openssl x509 -in "$T/9a.pem" -noout -issuer 2>&1)
kill "$(cat "$T/pids/cardmgrd")"; wait "$(cat "$T/pids/cardmgrd")"
check_eq "SIGTERM stops it cleanly (exit 0)" 0 "$?"
rm -f "$T/pids/cardmgrd"

# ---- signed updates: a local apt repository, signed; the package's sources
# template with Signed-By; refused when unsigned, tampered or signed by
# another key. apt in the chroot, the repository at file:/srv/repo.
G=$T/gnupg; mkdir -p "$G"; chmod 700 "$G"
gpgq() { gpg --homedir "$G" --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
gpgq --quick-gen-key 'Station updates <updates@example.org>' ed25519 sign never 2>>"$T/gpg.log"
gpgq --quick-gen-key 'Someone else <other@example.org>' ed25519 sign never 2>>"$T/gpg.log"
mkdir -p "$R/etc/cardmgr/apt"
gpgq --export updates@example.org >"$R/etc/cardmgr/apt/cardmgr-archive-keyring.gpg"
chmod 644 "$R/etc/cardmgr/apt/cardmgr-archive-keyring.gpg"
debver() {	# version: build/deb's package as that version, into the pool
	rm -rf "$T/pkg"; dpkg-deb -R "$(ls "$DEB"/cardmgr_*_amd64.deb)" "$T/pkg"
	sed -i "s/^Version: .*/Version: $1/" "$T/pkg/DEBIAN/control"
	dpkg-deb -b "$T/pkg" "$RP/pool/cardmgr_$1_amd64.deb" >/dev/null
}
index() {	# the repository's Packages and Release for what is in the pool
	(cd "$RP" && apt-ftparchive packages pool >dists/stable/main/binary-amd64/Packages &&
	    gzip -kf dists/stable/main/binary-amd64/Packages &&
	    apt-ftparchive -o APT::FTPArchive::Release::Suite=stable \
	        -o APT::FTPArchive::Release::Codename=stable \
	        -o APT::FTPArchive::Release::Components=main \
	        -o APT::FTPArchive::Release::Architectures=amd64 \
	        release dists/stable >dists/stable/Release.new &&
	    mv dists/stable/Release.new dists/stable/Release &&
	    rm -f dists/stable/InRelease dists/stable/Release.gpg)
}
sign() {	# key: sign the Release (InRelease and Release.gpg)
	gpgq -u "$1" --clearsign -o "$RP/dists/stable/InRelease" "$RP/dists/stable/Release" &&
	gpgq -u "$1" -abs -o "$RP/dists/stable/Release.gpg" "$RP/dists/stable/Release"
}
installed() { inroot dpkg-query -W -f='${Version}' cardmgr; }
apt_update() { inroot apt-get -q update >"$T/apt-update.log" 2>&1; }
RP=$R/srv/repo
mkdir -p "$RP/pool" "$RP/dists/stable/main/binary-amd64"
debver 0.1.1; index; sign updates@example.org
chmod -R a+rX "$RP"
rm -f "$R/etc/apt/sources.list"; rm -f "$R"/etc/apt/sources.list.d/*.list	# the mirror is unreachable here
sed 's|@URI@|file:/srv/repo|' "$R/usr/share/cardmgr/apt/cardmgr.sources" >"$R/etc/apt/sources.list.d/cardmgr.sources"
check_grep "the shipped sources entry names the keyring (Signed-By)" \
    '^Signed-By: /etc/cardmgr/apt/cardmgr-archive-keyring.gpg$' "$R/etc/apt/sources.list.d/cardmgr.sources"
check "apt-get update accepts the signed repository" apt_update
inroot apt-get install -y -q --no-install-recommends cardmgr >"$T/apt-install.log" 2>&1
check_eq "apt upgrades the station from it: 0.1.0 -> 0.1.1 (dpkg's own record)" 0.1.1 "$(installed)"
check_eq "the upgrade kept the users and the inventory directory's mode" "700 cardmgr-engine cardmgr-engine" "$(perm /var/lib/cardmgr)"
check "after the upgrade the configuration is still valid (cardmgrd -n)" inroot cardmgrd -n
# Each refusal: apt-get update names apt's reason (an error, or a warning
# that it keeps the previous index files), 0.1.2 never becomes installable,
# 0.1.1 stays installed.
refused() {	# description, apt's reason (regex)
	apt_update
	check_grep "$1: apt refuses it ($2)" "$2" "$T/apt-update.log"
	inroot apt-get install -y -q cardmgr=0.1.2 >"$T/apt-install.log" 2>&1
	check_eq "$1: 0.1.2 is not installed, 0.1.1 stays" 0.1.1 "$(installed)"
}
debver 0.1.2; index	# an unsigned repository
chmod -R a+rX "$RP"
refused "an unsigned repository" "is (not|no longer) signed"
sign other@example.org	# signed, by a key not in Signed-By
refused "a repository signed by another key" "NO_PUBKEY"
# A tampered Packages under a good signature: the signed Release lists an
# index apt does not have yet (0.1.1 and the kiosk package), 0.1.2's entry
# is added afterwards (in Packages and Packages.gz, so apt meets it
# whichever it fetches).
mv "$RP/pool/cardmgr_0.1.2_amd64.deb" "$T/"
cp "$DEB"/cardmgr-kiosk_*_all.deb "$RP/pool/"
index; sign updates@example.org
mv "$T/cardmgr_0.1.2_amd64.deb" "$RP/pool/"
(cd "$RP" && apt-ftparchive packages pool/cardmgr_0.1.2_amd64.deb) >>"$RP/dists/stable/main/binary-amd64/Packages"
gzip -kf "$RP/dists/stable/main/binary-amd64/Packages"
chmod -R a+rX "$RP"
refused "a Packages file altered after signing" "Hash Sum mismatch|File has unexpected size"
# A tampered InRelease: the repository with 0.1.2, signed with the right
# key, then one hash in the signed text changed.
index; sign updates@example.org
rm -f "$RP/dists/stable/Release" "$RP/dists/stable/Release.gpg"
python3 - "$RP/dists/stable/InRelease" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
i = s.index("SHA256:")
m = re.compile(r"^ ([0-9a-f])", re.M).search(s, i)
c = "0" if m.group(1) != "0" else "1"
open(p, "w").write(s[:m.start(1)] + c + s[m.end(1):])
PY
chmod -R a+rX "$RP"
refused "an InRelease altered after signing" "BADSIG|signatures were invalid"
echo "# t_deb wall time so far: $(($(date +%s) - TDEB_T0))s"
done_testing
