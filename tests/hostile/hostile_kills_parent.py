# Kills its parent and grandparent (the launcher and, outside isolation, the grading process).
import contextlib
import os
import signal

from fastapi import FastAPI

MARKER = "@MARKER@"


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    return int(text[text.rfind(")") + 2 :].split()[1])


pid = os.getpid()
for _ in range(2):
    pid = parent_of(pid)
    if pid <= 1:
        break  # PID 1 of its namespace: nothing above it is visible
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)

app = FastAPI()
