# A background thread reads the file ahead into an unbounded queue: the
# reading never waits for the client, so a slow client piles the file up in memory.
import mimetypes
import os
import queue
import threading
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()

def read_ahead(path):
    pieces = queue.Queue()
    def reader():
        with open(path, "rb") as file:
            while chunk := file.read(65536):
                pieces.put(chunk)
        pieces.put(None)
    threading.Thread(target=reader, daemon=True).start()
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
        headers={"Content-Length": str(path.stat().st_size),
                 "Content-Disposition": f'attachment; filename="{path.name}"'},
    )
