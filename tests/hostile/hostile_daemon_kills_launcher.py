# Leaves a daemon behind and kills its launcher, so the daemon is orphaned out of the app's tree:
# a learner's `streamgrade check` (sandbox off) must still stop it, or not claim that it did.
import os
import signal

from fastapi import FastAPI

MARKER = "@MARKER@"

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvpe("sleep", ["sleep", "120"], {"STREAMGRADE_HOSTILE": MARKER, "PATH": "/usr/bin:/bin"})
    os._exit(0)

app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str):
    os.kill(os.getppid(), signal.SIGKILL)  # the launcher (under isolate, init: nothing escapes there)
    return prompt
