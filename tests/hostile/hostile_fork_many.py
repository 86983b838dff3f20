# Starts as many processes as it can, up to 300 (each a sleep that ends by itself).
import os

from fastapi import FastAPI

MARKER = "@MARKER@"

refused = 0
for _ in range(300):
    try:
        if os.fork() == 0:
            os.execvpe("sleep", ["sleep", "120"], {"STREAMGRADE_HOSTILE": MARKER, "PATH": "/usr/bin:/bin"})
    except OSError:
        refused += 1
        if refused > 20:
            break

app = FastAPI()
