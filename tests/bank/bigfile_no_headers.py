# Streams correctly but forgets Content-Length and Content-Disposition.
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks(path):
    with open(path, "rb") as file:
        while chunk := file.read(65536):
            yield chunk


@app.get("/bigfile")
def bigfile():
    path = Path(os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin"))
    if not path.is_file():
        raise HTTPException(404, "File not found")
    return StreamingResponse(chunks(path), media_type="application/octet-stream")
