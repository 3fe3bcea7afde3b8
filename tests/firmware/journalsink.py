#!/usr/bin/env python3
"""A stand-in for journald's native socket (t_journal): binds the datagram
socket PATH, decodes each entry (KEY=value lines, and the binary form
KEY\\n<u64 le length><bytes>\\n) and appends it to OUT as one JSON object per
line, as `journalctl -o json` prints them."""
import json, os, socket, struct, sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a") as f:
    f.write("")
    f.flush()
    while True:
        d = s.recv(1 << 20)
        e, i = {}, 0
        while i < len(d):
            nl = d.index(b"\n", i)
            line = d[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k = line
                (n,) = struct.unpack("<Q", d[nl + 1:nl + 9])
                v = d[nl + 9:nl + 9 + n]
                i = nl + 9 + n + 1
            e[k.decode()] = v.decode(errors="replace")
        f.write(json.dumps(e) + "\n")
        f.flush()
