# The reference's download with one fault: it announces Accept-Ranges: bytes but
# ignores the Range header, so every range request gets the whole file with 200.
import mimetypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

app = FastAPI()


# Where the file lives when BIGFILE_PATH is not set. Make a sample with
# `streamgrade sample-file` from the kit's root folder.
DEFAULT_BIGFILE_PATH = "sample-data/bigfile.bin"

# 64 KiB is large enough to keep system calls rare and small enough that a
# few chunks in flight cost nothing. The chunk size bounds memory: never
# iterate a binary file by lines (``for line in f``), a file with no newline
# byte is one single "line" as big as the file.
CHUNK_SIZE = 64 * 1024


def read_file_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    """Yield ``length`` bytes of ``path`` from offset ``start``, a chunk at a time.

    A plain (sync) generator: Starlette runs it in a worker thread, so the
    blocking file reads never stall the event loop. Starlette only asks for the
    next chunk once the previous one was handed to the server, and the server
    waits while a slow client's socket is full: that is what keeps memory flat.
    """
    with path.open("rb") as file:
        file.seek(start)
        remaining = length
        while remaining > 0:
            chunk = file.read(min(CHUNK_SIZE, remaining))
            if not chunk:  # the file shrank under us: stop rather than loop
                break
            remaining -= len(chunk)
            yield chunk


def content_disposition(filename: str) -> str:
    """``attachment; filename="..."``, with an RFC 6266 fallback for non-ASCII names."""
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@app.api_route("/bigfile", methods=["GET", "HEAD"])
def bigfile(request: Request) -> Response:
    """Stream the file named by BIGFILE_PATH without ever holding it in memory."""
    # Read at request time, not import time, so the file can change between
    # requests and tests can point the server at any file.
    path = Path(os.environ.get("BIGFILE_PATH", DEFAULT_BIGFILE_PATH))
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        # A missing file is the client's problem (404), not a server crash (500).
        raise HTTPException(status_code=404, detail=f"File not found: {path.name}")

    size = info.st_size
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(path.name),
    }

    status_code, first, length = 200, 0, size
    # (the fault: the Range header is never read)

    # Announcing the length lets the browser show a progress bar and lets
    # the server skip chunked encoding.
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status_code, headers=headers, media_type=media_type)
    return StreamingResponse(
        read_file_chunks(path, first, length),
        status_code=status_code,
        headers=headers,
        media_type=media_type,
    )
