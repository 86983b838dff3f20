# Checks and measures the file BIGFILE_PATH names, then opens the default
# path instead: the headers promise the file, the body breaks off at once.
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks():
    with open("bigfile.bin", "rb") as file:  # not the path checked below
        while chunk := file.read(65536):
            yield chunk


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(status_code=404, detail="file not found")
    return StreamingResponse(
        chunks(),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={
            "Content-Length": str(path.stat().st_size),
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )
