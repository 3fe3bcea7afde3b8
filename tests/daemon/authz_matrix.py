#!/usr/bin/env python3
"""The authorization matrix: every endpoint of docs/api.yaml, as one actor.

The endpoints come from docs/api.yaml; what each role may do comes from the
engine's floor table (floor_roles in cardmgr/engine/engine.c, each OPS_ code
named through the table in cardmgr/proc/ops.c). Every endpoint needs a
floor entry and a request below (REQUESTS): an endpoint added to api.yaml
without them fails the matrix. Each request is valid for the api (so it
reaches the engine's floor check) and names things that do not exist or an
empty reader, so an allowed request changes nothing that matters.

  authz_matrix.py TOP --kind unix --socket S --roles R[,R]
  authz_matrix.py TOP --kind kiosk|invalid --port P
  authz_matrix.py TOP --kind session --port P --session FILE --roles R[,R]

Outcome classes: "denied" (403 forbidden), "no_session" (401 no_session),
"allowed" (anything else). Prints a line per endpoint; exit 1 on any
difference from the expectation.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiosk  # noqa: E402

EMPTY_READER = "Virtual PCD 1 00 01"    # reader 3: the test keeps it empty
# The profile narrows the floor per card (prof->roles): a profile that does
# not exist keeps the matrix on the floor table alone.
NOPROFILE = "nosuchprofile"
NOCARD = "NOSUCHCARD"
NOHOLDER = "NOSUCHHOLDER"


def yaml_ops(path):
    ops, p, m = [], None, None
    for line in open(path):
        x = re.match(r'^  (/\S+):\s*$', line)
        if x:
            p = x.group(1)
            continue
        x = re.match(r'^    (get|post|put|delete|patch):\s*$', line)
        if x:
            m = x.group(1).upper()
            continue
        x = re.match(r'^      operationId: (\S+)\s*$', line)
        if x:
            ops.append((x.group(1), m, p))
    return ops


def floor_table(top):
    src = open(os.path.join(top, "cardmgr/engine/engine.c")).read()
    block = src[src.index("floor_roles[] = {"):]
    block = block[:block.index("\n};")]
    code_roles = {}
    for code, roles in re.findall(r'\{\s*(OPS_\w+)\s*,\s*([^}]*)\}', block):
        names = set(r.lower() for r in re.findall(r'OPR_ROLE_(\w+)', roles))
        code_roles[code] = None if roles.strip() == "0" else names
    ops = open(os.path.join(top, "cardmgr/proc/ops.c")).read()
    tbl = ops[ops.index("table[] = {"):]
    name_code = {n: c for c, n in re.findall(r'\{\s*(OPS_\w+),\s*"(\w+)"', tbl)}
    return {n: code_roles[c] for n, c in name_code.items() if c in code_roles}


def requests(pin, answer):
    """operationId -> (path, body or None): valid, harmless requests."""
    r = {"reader": EMPTY_READER}
    return {
        "status": ("/v1/status", None),
        "readers": ("/v1/readers", None),
        "session_key": ("/v1/session-key", None),
        "profiles": ("/v1/profiles", None),
        "holder_add": ("/v1/holders", {"id": "MTX1", "name": "Matrix"}),
        "holder_get": ("/v1/holders/" + NOHOLDER, None),
        "holder_list": ("/v1/holders?limit=1", None),
        "card_list": ("/v1/cards?limit=1", None),
        "card_get": ("/v1/cards/" + NOCARD, None),
        "issue": ("/v1/issue", dict(r, holder=NOHOLDER, profile=NOPROFILE,
                                    pin=pin)),
        "pin_change": ("/v1/cards/%s/pin" % NOCARD,
                       dict(r, old_pin=pin, new_pin=pin, new_pin_again=pin)),
        "unblock_questions": ("/v1/cards/%s/unblock/questions" % NOCARD,
                              dict(r)),
        "unblock": ("/v1/cards/%s/unblock" % NOCARD,
                    dict(r, challenge="x", new_pin=pin,
                         answers=[{"question": 1, "answer": answer}])),
        "retire": ("/v1/cards/%s/retire" % NOCARD, {"reason": "retire"}),
        "op_get": ("/v1/operations/999999", None),
        "cert_list": ("/v1/certificates", None),
        "audit_list": ("/v1/audit?limit=1", None),
        "audit_verify": ("/v1/audit/verify", {}),
        "config_check": ("/v1/config/check", {}),
        "report_inventory": ("/v1/reports/inventory", None),
        "report_operations": ("/v1/reports/operations?days=1", None),
        "report_pending": ("/v1/reports/pending", None),
        "report_expiring": ("/v1/reports/expiring?days=1", None),
        "notices_run": ("/v1/notices/run", {}),
        "crl_check": ("/v1/crl/check", {}),
        # A serial no certificate has, no cert: 404 past the floor.
        "cert_revoke": ("/v1/certificates/ffffff01/revoke",
                        {"reason": "keyCompromise"}),
        "cert_hold": ("/v1/certificates/ffffff01/hold", {}),
        "holder_unlock": ("/v1/holders/%s/unlock" % NOHOLDER,
                          {"reason": "matrix"}),
        "master_new": ("/v1/keys/master", {}),
        "suspend": ("/v1/cards/%s/suspend" % NOCARD, {"reason": "matrix"}),
        "reinstate": ("/v1/cards/%s/reinstate" % NOCARD, {}),
        "backup": ("/v1/backup", {}),
        "replace": ("/v1/cards/%s/replace" % NOCARD,
                    dict(r, reason="lost", pin=pin)),
        "temporary": ("/v1/cards/%s/temporary" % NOCARD, dict(r, pin=pin)),
        "temp_return": ("/v1/cards/%s/return" % NOCARD, {"reason": "matrix"}),
        # A request no one made: 404 past the floor.
        "approval_list": ("/v1/approvals", None),
        "approval_get": ("/v1/approvals/999999", None),
        "approval_approve": ("/v1/approvals/999999/approve", {}),
        "approval_deny": ("/v1/approvals/999999/deny", {"reason": "matrix"}),
        # The empty reader: no card to receive; no such card in stock.
        "stock_receive": ("/v1/stock/receive",
                          dict(r, model="matrix", location="matrix")),
        "stock_list": ("/v1/stock?model=matrix", None),
        "stock_move": ("/v1/stock/%s/move" % NOCARD, {"location": "matrix"}),
        "stock_dispose": ("/v1/stock/%s/dispose" % NOCARD,
                          {"reason": "matrix"}),
        "report_stock": ("/v1/reports/stock", None),
        "card_requirements": ("/v1/cards/%s/requirements" % NOCARD, None),
        "card_renew": ("/v1/cards/%s/renew" % NOCARD, dict(r, pin=pin)),
        "login": ("/v1/login", dict(r, pin=pin)),
        "session": ("/v1/session", None),
        # Last: it ends the session the other requests ride on.
        "logout": ("/v1/logout", {}),
    }


def expect(op, floor, kind, roles):
    if kind == "invalid" and op not in ("login", "logout"):
        return "no_session"
    if op == "session" and kind != "session":
        return "no_session"
    allowed = floor[op]
    if allowed is None or allowed & roles:
        return "allowed"
    return "denied"


def outcome(st, body):
    err = body.get("error") if isinstance(body, dict) else None
    if st == 403 and err == "forbidden":
        return "denied"
    if st == 401 and err == "no_session":
        return "no_session"
    return "allowed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("top")
    ap.add_argument("--kind", required=True,
                    choices=["unix", "kiosk", "invalid", "session"])
    ap.add_argument("--socket")
    ap.add_argument("--port")
    ap.add_argument("--session")
    ap.add_argument("--roles", default="")
    a = ap.parse_args()
    roles = set(x for x in a.roles.split(",") if x) | {"holder"}
    ops = yaml_ops(os.path.join(a.top, "docs/api.yaml"))
    floor = floor_table(a.top)
    sealer = kiosk.tcp(a.port) if a.port else kiosk.UnixConnection(a.socket)
    pin = kiosk.seal(sealer, "123456")
    reqs = requests(pin, kiosk.seal(sealer, "an answer"))
    bad = 0
    for op, _, _ in ops:
        if op not in floor or op not in reqs:
            print("MISSING %s: no %s" % (op, "floor entry (engine.c)"
                  if op not in floor else "request in authz_matrix.py"))
            bad += 1
    if bad:
        return 1
    headers = {}
    if a.kind == "invalid":
        headers["Cookie"] = "cm_session=" + "A" * 43
    if a.kind == "session":
        s = json.load(open(a.session))
        headers = {"Cookie": "cm_session=" + s["token"],
                   "X-CSRF-Token": s["csrf"]}
    order = sorted(ops, key=lambda o: o[0] == "logout")
    for op, method, path in order:
        p, body = reqs[op]
        conn = kiosk.UnixConnection(a.socket) if a.kind == "unix" \
            else kiosk.tcp(a.port)
        st, b, _ = kiosk.request(conn, method, p, body, headers)
        got, want = outcome(st, b), expect(op, floor, a.kind, roles)
        flag = "ok  " if got == want else "DIFF"
        if got != want:
            bad += 1
        err = b.get("error", "") if isinstance(b, dict) else ""
        print("%s %-6s %-40s %3d %-18s want %s" % (flag, method, path, st,
              err, want))
    print("%d endpoints, %d differ" % (len(ops), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
