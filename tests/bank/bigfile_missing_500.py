# Never checks that the file exists: a missing file crashes with 500.
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks(path):
    with open(path, "rb") as file:
        while chunk := file.read(65536):
            yield chunk


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    return StreamingResponse(
        chunks(path),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={
            "Content-Length": str(os.path.getsize(path)),
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )
