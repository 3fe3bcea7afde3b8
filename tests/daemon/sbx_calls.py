#!/usr/bin/env python3
"""List the system calls each cardmgrd process makes once its sandbox is on.

    sbx_calls.py DIR...

DIR holds `strace -ff -tt -o DIR/st cardmgrd ...` output (one file per
thread; tests/daemon/stationenv.sh's CARDMGRD_WRAP runs the daemon so). The
processes are told apart by the user they drop to (setresuid) and by the
self-test helper's execve; a process's calls count from its seccomp() call
on, in every thread. What a process spawns before exec runs under its
filter, so the engine's list includes the self-test helper's calls up to the
helper's own filter. Prints one line per role: the sorted call names.
"""
import glob
import os
import pwd
import re
import sys

LINE = re.compile(r'^(\d\d:\d\d:\d\d\.\d+) (.*)$')
CALL = re.compile(r'^(?:<\.\.\. )?([a-z0-9_]+)[( ]')


def parse(path):
    out = []
    with open(path, errors='replace') as f:
        for ln in f:
            m = LINE.match(ln)
            if not m:
                continue
            ts, rest = m.groups()
            if rest.startswith('---') or rest.startswith('+++'):
                continue
            c = CALL.match(rest)
            if c:
                out.append((ts, c.group(1), rest))
    return out


def role_of_uid(uid):
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return None
    return {'cardmgr-api': 'api', 'cardmgr-engine': 'engine',
            'cardmgr-keyd': 'keyd'}.get(name)


def one_dir(d, sets):
    files = {int(p.rsplit('.', 1)[1]): parse(p) for p in glob.glob(d + '/st.*')}
    parent_of, thread = {}, {}
    for tid, calls in files.items():
        for _, name, rest in calls:
            if name in ('clone', 'clone3', 'fork', 'vfork'):
                m = re.search(r'= (\d+)$', rest)
                if m and '<unfinished' not in rest:
                    child = int(m.group(1))
                    parent_of[child] = tid
                    thread[child] = 'CLONE_THREAD' in rest
    tgid = {}

    def tg(t):
        if t not in tgid:
            tgid[t] = tg(parent_of[t]) if thread.get(t) and t in parent_of else t
        return tgid[t]
    procs = {}
    for t in files:
        procs.setdefault(tg(t), []).append(t)
    roots = [p for p in procs if p not in parent_of]
    role = {}
    for p, tids in procs.items():
        calls = files[p]
        if p in roots:
            role[p] = 'parent'
        for _, name, rest in calls:
            if name == 'setresuid':
                m = re.match(r'setresuid\((\d+)', rest)
                if m and role_of_uid(int(m.group(1))):
                    role[p] = role_of_uid(int(m.group(1)))
            if name == 'execve' and 'cardmgr-selftest' in rest:
                role[p] = 'selftest'
    for p, tids in procs.items():
        r, spawned = role.get(p), False
        if r is None and p in parent_of:
            # forked or spawned, never exec'd: under its parent's filter
            r, spawned = role.get(tg(parent_of[p])), True
        if r is None:
            continue
        marks = [ts for ts, name, rest in files[p]
                 if name == 'seccomp' and 'SET_MODE_FILTER' in rest]
        up = parent_of.get(p)
        up = role.get(tg(up)) if up else None
        for t in tids:
            for ts, name, _ in files[t]:
                if spawned or (marks and ts > marks[0]):
                    sets.setdefault(r, set()).add(name)
                # the helper runs under the engine's filter from birth
                if r == 'selftest' and up == 'engine':
                    sets.setdefault('engine', set()).add(name)


def main():
    sets = {}
    for d in sys.argv[1:]:
        if os.path.isdir(d):
            one_dir(d, sets)
    for r in ('parent', 'api', 'engine', 'keyd', 'selftest'):
        print(r + ':', ' '.join(sorted(sets.get(r, ()))))


if __name__ == '__main__':
    main()
