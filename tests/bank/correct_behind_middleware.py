# Correct: the reference's routes behind the middleware real apps add (GZip,
# CORS, a BaseHTTPMiddleware that adds a header) and a lifespan. A client
# that asks for identity, as the exercise pages' curl does, gets the bytes
# unchanged.
from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import StreamingResponse
from starlette.middleware.base import BaseHTTPMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.requests = 0  # something set up at start-up, as real apps do
    yield


app = FastAPI(lifespan=lifespan)
app.add_middleware(GZipMiddleware, minimum_size=100)
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


class ServedBy(BaseHTTPMiddleware):
    """Adds a header to every answer: the middleware style of many tutorials."""

    async def dispatch(self, request, call_next):
        request.app.state.requests += 1
        response = await call_next(request)
        response.headers["X-Served-By"] = "streamgrade-bank"
        return response


app.add_middleware(ServedBy)


# ---------------------------------------------------------------------------
# Exercise 1: GET /chat-stream, an LLM-style token stream
# ---------------------------------------------------------------------------

# A token is a word with the whitespace after it, or a leading run of
# whitespace. Joined together the tokens give back the prompt exactly.
TOKEN_PATTERN = re.compile(r"\S+\s*|\s+")


@app.get("/chat-stream")
async def chat_stream(
    prompt: str = "Hello from FastAPI!",
    delay: Annotated[float, Query(ge=0, le=5, description="Seconds between tokens")] = 0.2,
) -> StreamingResponse:
    """Echo the prompt back one token at a time, like a language model."""

    async def generate_tokens() -> AsyncIterator[str]:
        for index, token in enumerate(TOKEN_PATTERN.findall(prompt)):
            if index > 0:
                # asyncio.sleep hands control back to the event loop, so the
                # server keeps answering other requests while we wait.
                # time.sleep here would freeze the whole server.
                await asyncio.sleep(delay)
            yield token

    # Each yielded string is encoded and written to the socket straight away:
    # the client sees the first token before the last one exists.
    return StreamingResponse(generate_tokens(), media_type="text/plain; charset=utf-8")


# ---------------------------------------------------------------------------
# Exercise 2: GET /bigfile, a large download with bounded memory
# ---------------------------------------------------------------------------

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
        raise ValueError("range starts after the end of the file")
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


# ---------------------------------------------------------------------------
# Exercise 3: GET /events, Server-Sent Events
# ---------------------------------------------------------------------------


def format_event(seq: int) -> str:
    """One SSE event: an id line, a data line, and the blank line that ends it."""
    payload = {"seq": seq, "time": datetime.now(UTC).isoformat()}
    return f"id: {seq}\ndata: {json.dumps(payload)}\n\n"


def first_sequence_number(last_event_id: str | None) -> int:
    """Continue after the last event the browser saw, or start at 1."""
    value = (last_event_id or "").strip()
    # isascii too: "²".isdigit() is true, and int("²") raises.
    if value.isascii() and value.isdigit():
        return int(value) + 1
    return 1  # no header, or an id we never sent (not a number, negative): start over


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60, description="Seconds between events")] = 1.0,
    count: Annotated[int | None, Query(ge=1, description="Events to send; endless if omitted")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Send a numbered event at once, then one every ``interval`` seconds."""
    first_seq = first_sequence_number(last_event_id)

    async def generate_events() -> AsyncIterator[str]:
        sent = 0
        while count is None or sent < count:
            if sent > 0:
                await asyncio.sleep(interval)
            # The timestamp is taken now, when the event is produced.
            yield format_event(first_seq + sent)
            sent += 1

    # When the client goes away, Starlette cancels this generator at its next
    # await, so an endless stream stops costing anything.
    return StreamingResponse(
        generate_events(),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            # Ask nginx-style proxies not to buffer the stream.
            "X-Accel-Buffering": "no",
        },
    )


# Exercise 4: the reference's answers, through the same middleware.
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

SQUARES_DISPOSITION = {"Content-Disposition": 'attachment; filename="squares.csv"'}


@app.get("/hello", response_class=PlainTextResponse)
def hello(name: str = "world") -> PlainTextResponse:
    return PlainTextResponse(f"Hello, {name}!")


@app.get("/page", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse("<!DOCTYPE html>\n<title>Responses</title>\n<h1>Responses</h1>\n")


def squares_lines(rows: int) -> Iterator[str]:
    yield "n,square\r\n"
    for n in range(1, rows + 1):
        yield f"{n},{n * n}\r\n"


@app.get("/squares.csv")
def squares_csv(rows: int = 3) -> Response:
    return Response("".join(squares_lines(rows)), media_type="text/csv", headers=SQUARES_DISPOSITION)


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3) -> StreamingResponse:
    return StreamingResponse(squares_lines(rows), media_type="text/csv", headers=SQUARES_DISPOSITION)


@app.get("/bytes")
def counting_bytes(n: int = 256) -> Response:
    return Response(bytes(i % 256 for i in range(n)), media_type="application/octet-stream")


@app.get("/old-page")
def old_page() -> RedirectResponse:
    return RedirectResponse("/page", status_code=301)
