# Content-Type straight from mimetypes.guess_type, with no fallback: a name it
# can't guess gives None, and the reply goes out with no Content-Type at all.
import mimetypes
import os

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


def chunks(path):
    with open(path, "rb") as file:
        while chunk := file.read(65536):
            yield chunk


@app.get("/bigfile")
def bigfile():
    path = os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin")
    if not os.path.isfile(path):
        raise HTTPException(status_code=404, detail="File not found")
    name = os.path.basename(path)
    return StreamingResponse(
        chunks(path),
        media_type=mimetypes.guess_type(name)[0],
        headers={
            "Content-Length": str(os.path.getsize(path)),
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
