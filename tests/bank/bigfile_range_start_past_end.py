# The reference's download with one fault: a Range that starts after the end of
# the file gets the whole file with 200 instead of 416 Range Not Satisfiable.
import mimetypes
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, Header, HTTPException, Request, Response
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

RANGE_PATTERN = re.compile(r"bytes=(\d*)-(\d*)")


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


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Turn ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` into (first, last) byte offsets.

    Returns None for a header we choose to ignore (malformed, or several
    ranges): the RFC lets a server answer those with the whole file.
    Raises ValueError for a well-formed range that lies outside the file.
    """
    match = RANGE_PATTERN.fullmatch(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # "-n": the last n bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid syntax per RFC 9110: ignore the header
    if first >= size:
        return None  # the fault: the whole file, where the contract says 416
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


def content_disposition(filename: str) -> str:
    """``attachment; filename="..."``, with an RFC 6266 fallback for non-ASCII names."""
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@app.api_route("/bigfile", methods=["GET", "HEAD"])
def bigfile(request: Request, range_header: Annotated[str | None, Header(alias="range")] = None) -> Response:
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
    if range_header is not None:
        try:
            byte_range = parse_range(range_header, size)
        except ValueError:
            return Response(
                status_code=416,
                headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
            )
        if byte_range is not None:
            first, last = byte_range
            status_code, length = 206, last - first + 1
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"

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
