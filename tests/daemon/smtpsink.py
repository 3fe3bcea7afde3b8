#!/usr/bin/python3
"""A real SMTP server for the expiry-notice tests (Python 3.11's smtpd).

    smtpsink.py PORT DIR

Every message that reaches DATA is appended to DIR/attempts.jsonl; what the
file DIR/mode says decides the answer: "defer" -> 451 (transient), else a
recipient starting with "reject" -> 550 (permanent), else 250 and the
message is appended to DIR/received.jsonl as well. One JSON object per line:
{"from", "to", "data", "answer"}.
"""
import asyncore
import json
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import smtpd  # noqa: E402  (deprecated, still in Python 3.11)

PORT, DIR = int(sys.argv[1]), sys.argv[2]


def log(name, rec):
    with open(os.path.join(DIR, name), "a") as f:
        f.write(json.dumps(rec) + "\n")


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        try:
            mode = open(os.path.join(DIR, "mode")).read().strip()
        except OSError:
            mode = "accept"
        if mode == "defer":
            answer = "451 4.3.0 try again later"
        elif any(r.startswith("reject") for r in rcpttos):
            answer = "550 5.1.1 no such mailbox"
        else:
            answer = None
        rec = {"from": mailfrom, "to": rcpttos,
               "data": data.decode("utf-8", "replace"),
               "answer": answer or "250"}
        log("attempts.jsonl", rec)
        if answer is None:
            log("received.jsonl", rec)
        return answer


Sink(("127.0.0.1", PORT), None)
open(os.path.join(DIR, "ready"), "w").close()
asyncore.loop()
