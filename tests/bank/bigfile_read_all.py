# Reads the whole file into memory and sends it in one Response.
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException, Response

app = FastAPI()


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(404, "File not found")
    return Response(
        path.read_bytes(),
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )
