"""Run a command on a new pseudo-terminal and answer its prompts, like a user.

    pty_drive.py TRANSCRIPT PROMPT ANSWER [PROMPT ANSWER]... -- COMMAND...

Waits for each PROMPT (a substring) on the terminal before typing ANSWER and
Enter. Everything the terminal showed is written to TRANSCRIPT, so a test can
check that what was typed was not echoed. Exits with the command's status
(124 if a prompt did not come within 10 s).
"""
import os, pty, select, sys, time

def main():
    sep = sys.argv.index('--')
    transcript, pairs, cmd = sys.argv[1], sys.argv[2:sep], sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b''
    start = 0               # prompts are looked for after the last one
    rc = None
    for i in range(0, len(pairs), 2):
        prompt, answer = pairs[i].encode(), pairs[i + 1].encode()
        deadline = time.time() + 10
        while seen.find(prompt, start) < 0 and time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        at = seen.find(prompt, start)
        if at < 0:
            rc = 124
            break
        start = at + len(prompt)
        os.write(fd, answer + b'\n')
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    _, status = os.waitpid(pid, 0)
    open(transcript, 'wb').write(seen)
    sys.exit(rc if rc is not None else os.waitstatus_to_exitcode(status))

main()
