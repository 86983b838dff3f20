# "Read ahead to be fast": a background thread reads the file into an
# unbounded queue, and the stream waits for a 64 MiB head start before it
# sends anything. The reading never waits for the client, so the file piles
# up in memory: 64 MiB at once, and all of it for a slow client.
import mimetypes
import os
import queue
import threading
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()
CHUNK = 65536
HEAD_START = 64 * 1024 * 1024


def read_ahead(path):
    pieces = queue.Queue()
    done = threading.Event()

    def reader():
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                pieces.put(chunk)
        pieces.put(None)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    while pieces.qsize() * CHUNK < HEAD_START and not done.is_set():
        time.sleep(0.01)
    while (chunk := pieces.get()) is not None:
        yield chunk


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(404, "File not found")
    return StreamingResponse(
        read_ahead(path),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={
            "Content-Length": str(path.stat().st_size),
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )
