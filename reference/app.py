"""Reference solution for the exercises.

Read this after you have passed the grader (or after you have tried hard):
it is one way to meet every line of the contract in ``exercises/``, with
comments on *why* each choice is made.

Run it by hand from the kit's root folder::

    uvicorn reference.app:app --reload
    curl -N 'http://127.0.0.1:8000/chat-stream?prompt=Hi%20there&delay=0.5'
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

app = FastAPI(title="streamgrade reference solution")


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


# ---------------------------------------------------------------------------
# Exercise 4: answers sent whole (text, HTML, CSV, bytes, a redirect), and one streamed
# ---------------------------------------------------------------------------
# Returning a response object skips FastAPI's conversion to JSON: the body
# goes out exactly as given, labelled with the media type we choose, and with
# a Content-Length, because the whole body is known before it is sent.

# Imported here, so that this exercise's part of the file reads on its own.
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse  # noqa: E402

SQUARES_DISPOSITION = {"Content-Disposition": 'attachment; filename="squares.csv"'}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Responses</title></head>
<body>
<h1>Responses</h1>
<p>Sent whole, as <code>text/html</code>: the browser renders it instead of showing its source.</p>
</body>
</html>
"""


@app.get("/hello", response_class=PlainTextResponse)
def hello(name: str = "world") -> PlainTextResponse:
    """Exactly ``Hello, <name>!``: ``return f"..."`` alone would send a JSON string, quotes included."""
    return PlainTextResponse(f"Hello, {name}!")


# response_class also tells the OpenAPI docs that this route answers HTML.
@app.get("/page", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


def squares_lines(rows: int) -> Iterator[str]:
    """The CSV's lines, each with the \r\n ending CSV files use (RFC 4180, and Python's csv module)."""
    yield "n,square\r\n"
    for n in range(1, rows + 1):
        yield f"{n},{n * n}\r\n"


@app.get("/squares.csv")
def squares_csv(rows: int = 3) -> Response:
    """A small download, sent whole: Response sets Content-Length from the body."""
    return Response("".join(squares_lines(rows)), media_type="text/csv", headers=SQUARES_DISPOSITION)


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3) -> StreamingResponse:
    """The same file, streamed: its size is not known up front, so it goes out chunked."""
    return StreamingResponse(squares_lines(rows), media_type="text/csv", headers=SQUARES_DISPOSITION)


@app.get("/bytes")
def counting_bytes(n: int = 256) -> Response:
    """Bytes must be wrapped in a Response: returned bare, FastAPI would try to make JSON text of them."""
    return Response(bytes(i % 256 for i in range(n)), media_type="application/octet-stream")


@app.get("/old-page")
def old_page() -> RedirectResponse:
    """301: moved for good (RedirectResponse's default, 307, says "only this time")."""
    # A path, not a full URL: the client resolves it against the address it used.
    return RedirectResponse("/page", status_code=301)


# ---------------------------------------------------------------------------
# Exercise 5: POST /v1/chat/completions, an OpenAI-compatible chat stream
# ---------------------------------------------------------------------------

# Imported here, so that this exercise's part of the file reads on its own.
import time  # noqa: E402
import uuid  # noqa: E402

from pydantic import BaseModel, Field  # noqa: E402

# Pydantic models describe the JSON body: FastAPI answers a body that does not
# fit them (not JSON, a field missing or of the wrong type, a delay out of
# range) with 422 and the reason, which the openai client shows as it is.
# Fields the client may add that we do not use (temperature...) are ignored.


class ChatMessage(BaseModel):
    role: str
    content: str


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Not an OpenAI field: clients send it as an extra body field.
    delay: float = Field(0.2, ge=0, le=5)


def count_tokens(text: str) -> int:
    return len(TOKEN_PATTERN.findall(text))


def usage_of(request: ChatCompletionRequest, reply_tokens: list[str]) -> dict[str, int]:
    prompt_tokens = sum(count_tokens(message.content) for message in request.messages)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(reply_tokens),
        "total_tokens": prompt_tokens + len(reply_tokens),
    }


def sse_data(payload: dict | str) -> str:
    """One event: a data line and the blank line that ends it."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


@app.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: ChatCompletionRequest) -> StreamingResponse | dict:
    """Echo the last user message back, token by token, the way OpenAI's API streams."""
    last_user = next((message for message in reversed(request.messages) if message.role == "user"), None)
    if last_user is None:
        # The client's mistake, so a 4xx the client can show, never a 500.
        raise HTTPException(status_code=400, detail="messages must hold at least one message with role 'user'")
    tokens = TOKEN_PATTERN.findall(last_user.content)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    usage = usage_of(request, tokens)

    if not request.stream:
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": last_user.content},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }

    def chunk(choices: list[dict], **extra: object) -> dict:
        # Every chunk of one stream has the same id, created and model.
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "choices": choices,
            **extra,
        }

    include_usage = request.stream_options is not None and request.stream_options.include_usage

    async def generate_chunks() -> AsyncIterator[str]:
        for index, token in enumerate(tokens):
            if index > 0:
                await asyncio.sleep(request.delay)  # the loop serves others meanwhile
            # The role comes once, in the first delta; then only content.
            delta = {"role": "assistant", "content": token} if index == 0 else {"content": token}
            yield sse_data(chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
        if not tokens:  # an empty message: the role still comes first
            yield sse_data(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
        # Why the reply ended, in a chunk with an empty delta.
        yield sse_data(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if include_usage:
            # Usage covers the whole reply: its own chunk, with no choices.
            yield sse_data(chunk([], usage=usage))
        # Tells clients the stream is complete (and not cut off).
        yield sse_data("[DONE]")

    # When the client disconnects, Starlette cancels the generator at its next
    # await: the "model" stops generating for nobody.
    return StreamingResponse(
        generate_chunks(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
