#!/usr/bin/env python3
"""The kiosk browser's side of the station API, for the daemon tests.

Raw HTTP (http.client) to the api process, on the TCP listener as the kiosk
browser, or on the UNIX socket; PINs sealed to GET /v1/session-key with
tests' api_harness (crypto_box_seal), never on argv.

  kiosk.py PORT login READER [COOKIE_FILE] < pin
      POST /v1/login; prints {"status", "body", "set_cookie"}; with
      COOKIE_FILE, the session token and csrf go there (JSON).
  kiosk.py PORT req METHOD PATH [--session FILE] [--csrf X|--no-csrf]
      [--origin O] [--cookie RAW] [--body JSON]
      prints {"status", "body", "set_cookie"}.
"""
import http.client
import json
import os
import socket
import subprocess
import sys


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def request(conn, method, path, body=None, headers=None):
    h = {"Host": "127.0.0.1"}
    h.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    raw = r.read()
    try:
        b = json.loads(raw) if raw else None
    except ValueError:
        b = raw.decode(errors="replace")
    return r.status, b, r.getheader("Set-Cookie")


def tcp(port):
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)


def seal(conn, secret):
    st, b, _ = request(conn, "GET", "/v1/session-key")
    if st != 200:
        raise SystemExit("session-key: %s %s" % (st, b))
    harness = os.path.join(os.environ["BIN"], "api_harness")
    out = subprocess.run([harness, "seal", b["key"]], input=secret.encode(),
                         capture_output=True, check=True)
    return out.stdout.decode().strip()


def login(port, reader, pin, cookie_file=None, headers=None):
    c = tcp(port)
    body = {"reader": reader, "pin": seal(c, pin)}
    st, b, sc = request(c, "POST", "/v1/login", body, headers)
    if cookie_file and st == 200 and sc:
        tok = sc.split(";")[0].split("=", 1)[1]
        with open(cookie_file, "w") as f:
            json.dump({"token": tok, "csrf": b["csrf"]}, f)
    return {"status": st, "body": b, "set_cookie": sc}


def main(argv):
    port, cmd = argv[1], argv[2]
    if cmd == "login":
        pin = sys.stdin.readline().rstrip("\n")
        print(json.dumps(login(port, argv[3], pin,
                               argv[4] if len(argv) > 4 else None)))
        return 0
    method, path = argv[3], argv[4]
    args = argv[5:]
    headers, body, sess, csrf = {}, None, None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--session":
            sess = json.load(open(args[i + 1]))
        elif a == "--csrf":
            csrf = args[i + 1]
        elif a == "--no-csrf":
            csrf = ""
            i -= 1
        elif a == "--origin":
            headers["Origin"] = args[i + 1]
        elif a == "--cookie":
            headers["Cookie"] = args[i + 1]
        elif a == "--body":
            body = json.loads(args[i + 1])
        i += 2
    if sess is not None:
        headers["Cookie"] = "cm_session=" + sess["token"]
        if csrf is None:
            csrf = sess["csrf"]
    if csrf:
        headers["X-CSRF-Token"] = csrf
    st, b, sc = request(tcp(port), method, path, body, headers)
    print(json.dumps({"status": st, "body": b, "set_cookie": sc}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
