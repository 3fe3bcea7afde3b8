#!/bin/bash
# The kiosk UI's static files (cardmgr/api/api_static.c) through raw HTTP:
# api_main in tests/api/api_harness.c serving a scratch UI directory that
# holds the traps (a dotfile, a symlink out of the tree, a symlinked
# directory, a FIFO, an oversized file, a type not served). Each refusal is
# a 4xx JSON error that never returns the trap's bytes, and the api still
# serves afterwards. The real daemon serving the repo's kiosk-ui/ is
# tests/ui/t_ui_holder.sh.
. "$TOP/tests/lib/tap.sh"
H=$BIN/api_harness
[ -x "$H" ] || { echo "# missing $H (make $H)"; exit 1; }
dir=$(mktemp -d /tmp/t_api_static.XXXXXX)
chmod 755 "$dir"
hpid=
cleanup() {
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# The tree: readable by the harness's unprivileged api (uid 65534).
ui=$dir/ui
mkdir -p "$ui/js" "$dir/outside"
echo '<!doctype html><title>kiosk</title>' >"$ui/index.html"
echo 'export const inside = 1;' >"$ui/js/app.js"
echo 'SECRET-dotfile' >"$ui/.env.js"
echo 'SECRET-hidden' >"$ui/js/.hidden.js"
echo 'SECRET-outside' >"$dir/outside/x.js"
echo 'SECRET-outside' >"$dir/outside.js"
echo 'notes' >"$ui/README.md"
ln -s ../outside.js "$ui/link.js"
ln -s ../outside "$ui/lnk"
ln -s app.js "$ui/js/same.js"	# a symlink that stays inside: refused too
mkfifo "$ui/fifo.js"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$ui/big.js"
chmod -R a+rX "$dir"

start() {
	rm -f "$dir/ready" "$dir/port" "$dir/api.sock"
	API_HARNESS_UI_DIR=$1 "$H" serve "$dir" 2 2>>"$dir/api.log" &
	hpid=$!
	for _ in $(seq 100); do
		[ -s "$dir/ready" ] && [ -S "$dir/api.sock" ] && break
		sleep 0.1
	done
	sleep 0.2
	T=http://127.0.0.1:$(cat "$dir/port")
}
stop() { kill "$hpid"; wait "$hpid" 2>/dev/null; hpid=; }
http() {
	st=$(curl -sS --path-as-is -o "$dir/body" -D "$dir/hdr" -w '%{http_code}' "$@" 2>"$dir/curl.err")
}
hdr() { grep -i "^$1:" "$dir/hdr" | head -n 1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'; }
jerr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$dir/body" 2>/dev/null; }
# refused STATUS CODE DESC curl-args...: the status, a JSON error, no secret
# byte in the answer, and the next request for the page is served.
refused() {
	local want=$1 code=$2 desc=$3; shift 3
	http "$@"
	check_eq "$desc: HTTP $want $code" "$want $code" "$st $(jerr)"
	if grep -q SECRET "$dir/body"; then not_ok "$desc: answer leaks the file"; fi
	http "$T/"
	check_eq "$desc: the page is still served" 200 "$st"
}

start "$ui"
http "$T/"
check_eq "GET / serves index.html" "200 $(cat "$ui/index.html")" "$st $(cat "$dir/body")"
check_eq "as text/html" "text/html; charset=utf-8" "$(hdr Content-Type)"
check_grep "CSP: default-src 'self'" "^Content-Security-Policy: default-src 'self';.*frame-ancestors 'none'" "$dir/hdr"
check_eq "X-Frame-Options DENY" DENY "$(hdr X-Frame-Options)"
check_eq "X-Content-Type-Options nosniff" nosniff "$(hdr X-Content-Type-Options)"
check_eq "Referrer-Policy no-referrer" no-referrer "$(hdr Referrer-Policy)"
http "$T/ui/js/app.js"
check_eq "GET /ui/js/app.js, text/javascript" "200 text/javascript; charset=utf-8" "$st $(hdr Content-Type)"
check "its bytes are the file's" cmp -s "$dir/body" "$ui/js/app.js"
http "$T/ui/index.html?v=2"
check_eq "a query string is ignored" 200 "$st"
http -I "$T/ui/js/app.js"
check_eq "HEAD answers 200 with the length" "200 $(stat -c %s "$ui/js/app.js")" "$st $(hdr Content-Length)"

refused 400 bad_path "traversal /ui/../outside.js" "$T/ui/../outside.js"
refused 400 bad_path "traversal /ui/js/../../outside.js" "$T/ui/js/../../outside.js"
refused 400 bad_path "encoded traversal %2e%2e" "$T/ui/%2e%2e/outside.js"
refused 400 bad_path "encoded traversal %2E%2E%2F" "$T/ui/%2E%2E%2Foutside.js"
refused 400 bad_path "encoded slash js%2fapp.js" "$T/ui/js%2fapp.js"
refused 400 bad_path "double-encoded %252e" "$T/ui/%252e%252e/outside.js"
refused 400 bad_path "backslash" "$T/ui/js%5c..%5c..%5coutside.js"
refused 400 bad_path "dotfile /ui/.env.js" "$T/ui/.env.js"
refused 400 bad_path "dotfile in a folder" "$T/ui/js/.hidden.js"
refused 400 bad_path "empty segment" "$T/ui//js/app.js"
refused 400 bad_path "a NUL (%00)" "$T/ui/js/app.js%00.html"
refused 404 not_found "a symlink out of the tree" "$T/ui/link.js"
refused 404 not_found "through a symlinked folder" "$T/ui/lnk/x.js"
refused 404 not_found "a symlink inside the tree (none followed)" "$T/ui/js/same.js"
refused 404 not_found "a FIFO (no hang)" --max-time 10 "$T/ui/fifo.js"
refused 404 not_found "a file over 4 MiB" "$T/ui/big.js"
refused 404 not_found "a type not served (.md)" "$T/ui/README.md"
refused 404 not_found "a missing file" "$T/ui/js/nope.js"
refused 404 not_found "a folder" "$T/ui/js.js"
refused 414 bad_path "a static path over 200 bytes" "$T/ui/$(printf 'a%.0s' $(seq 250)).js"
refused 414 bad_path "nine segments deep" "$T/ui/a/b/c/d/e/f/g/h/i.js"
refused 414 bad_path "a request target over 2048 bytes" "$T/ui/$(printf 'a%.0s' $(seq 3000)).js"
http -X POST -d x "$T/ui/js/app.js"
check_eq "405 names GET, HEAD" "GET, HEAD" "$(hdr Allow)"
refused 405 method_not_allowed "POST to a static file" -X POST -d x "$T/ui/js/app.js"
refused 421 bad_host "a foreign Host" -H 'Host: evil.test' "$T/"
http "$T/v1/status"
check_eq "the API still answers beside the pages" 200 "$st"
http --unix-socket "$dir/api.sock" http://localhost/
check_eq "the CLI's UNIX socket serves no page (404 from the router)" 404 "$st"
check_eq "the api is still running" 0 "$(kill -0 "$hpid"; echo $?)"
stop

start "$dir/no-such-dir"
http "$T/"
check_eq "ui_dir missing: pages answer 404" "404 not_found" "$st $(jerr)"
http "$T/v1/status"
check_eq "and the API still serves" 200 "$st"
check_grep "and the api logs why" "kiosk UI .*no-such-dir" "$dir/api.log"
stop
done_testing
