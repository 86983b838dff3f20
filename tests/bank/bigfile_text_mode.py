# Opens the file in text mode: the bytes are decoded and encoded again, so
# what arrives is not the file (and no longer matches its Content-Length).
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks(path):
    with open(path, encoding="latin-1") as file:
        while chunk := file.read(65536):
            yield chunk.encode("utf-8")


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
