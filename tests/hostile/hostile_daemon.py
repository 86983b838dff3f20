# Leaves a daemon behind: double fork and setsid, out of the process group and away from its parent.
import os

from fastapi import FastAPI

MARKER = "@MARKER@"

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvpe("sleep", ["sleep", "120"], {"STREAMGRADE_HOSTILE": MARKER, "PATH": "/usr/bin:/bin"})
    os._exit(0)

app = FastAPI()
