# Starts a daemon (double fork, setsid) and then serves slowly, so that its grading is still running
# when the test SIGKILLs the grading process: what the app started must not outlive the batch.
import os
import time

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

MARKER = "@MARKER@"

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvpe("sleep", ["sleep", "120"], {"STREAMGRADE_HOSTILE": MARKER, "PATH": "/usr/bin:/bin"})
    os._exit(0)

app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str):
    time.sleep(30)
    return PlainTextResponse(prompt)
