# `yield from file`: looks like chunking, reads by lines.
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks(path):
    with open(path, "rb") as file:
        yield from file


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(404, "File not found")
    return StreamingResponse(
        chunks(path),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={
            "Content-Length": str(path.stat().st_size),
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )
