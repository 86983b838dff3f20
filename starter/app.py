"""Your streaming app: fill in the routes below.

Each route explains its task in ``exercises/``. Until you fill one in it
answers ``501 Not Implemented``, so the grader (and you) can tell "not done
yet" from "done but broken".

Try your app by hand from the kit's root folder::

    uvicorn starter.app:app --reload
    curl -N 'http://127.0.0.1:8000/chat-stream?prompt=Hi%20there&delay=0.5'

Grade it::

    streamgrade
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will want these)
import json  # noqa: F401
import os  # noqa: F401
import re  # noqa: F401
from datetime import datetime, timezone  # noqa: F401
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse, StreamingResponse  # noqa: F401

app = FastAPI(title="My streaming app")


def not_implemented(exercise_file: str) -> JSONResponse:
    return JSONResponse(
        status_code=501,
        content={"detail": f"Not implemented yet: see exercises/{exercise_file}"},
    )


# Exercise 1: exercises/01-chat-stream.md
@app.get("/chat-stream")
async def chat_stream(
    prompt: str = "Hello from FastAPI!",
    delay: Annotated[float, Query()] = 0.2,  # TODO: only 0 <= delay <= 5 is allowed
):
    # TODO: split the prompt into tokens with re.findall(r"\S+\s*|\s+", prompt)
    # TODO: write a generator that yields one token, waits `delay` seconds, yields the next...
    # TODO: return a StreamingResponse over that generator, as text/plain.
    return not_implemented("01-chat-stream.md")


# Exercise 2: exercises/02-bigfile.md
# The file to serve: the BIGFILE_PATH environment variable, or this default.
# Make a sample file with `streamgrade sample-file` from the kit's root folder.
DEFAULT_BIGFILE_PATH = "sample-data/bigfile.bin"


@app.get("/bigfile")
def bigfile():
    # TODO: read BIGFILE_PATH here, at request time (os.environ.get).
    # TODO: answer 404 if the file does not exist.
    # TODO: stream the file in fixed-size chunks, never all at once.
    # TODO: set Content-Length and Content-Disposition.
    return not_implemented("02-bigfile.md")


# Exercise 3: exercises/03-events.md
@app.get("/events")
async def events(
    interval: Annotated[float, Query()] = 1.0,  # TODO: only 0.01 <= interval <= 60
    count: Annotated[int | None, Query()] = None,  # TODO: at least 1 when given
    last_event_id: Annotated[str | None, Header()] = None,
):
    # TODO: yield events like "id: 1\ndata: {...}\n\n", one every `interval` seconds.
    # TODO: return them with the text/event-stream media type and Cache-Control: no-cache.
    return not_implemented("03-events.md")


# Exercise 4: exercises/04-responses.md
# Each route answers whole (not streamed) except /squares-stream.csv.
# The classes you need: from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response


@app.get("/hello")
def hello(name: str = "world"):
    # TODO: answer exactly "Hello, <name>!" as text/plain, not a JSON string with quotes.
    return not_implemented("04-responses.md")


@app.get("/page")
def page():
    # TODO: answer an HTML page (text/html) with the heading <h1>Responses</h1>.
    return not_implemented("04-responses.md")


@app.get("/squares.csv")
def squares_csv(rows: int = 3):
    # TODO: the CSV table "n,square" of 1..rows, as text/csv, with
    # TODO: Content-Disposition: attachment; filename="squares.csv".
    return not_implemented("04-responses.md")


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3):
    # TODO: the same CSV, streamed one line at a time (a generator and a StreamingResponse).
    return not_implemented("04-responses.md")


@app.get("/bytes")
def counting_bytes(n: int = 256):
    # TODO: the n bytes 0, 1, 2, ..., 255, 0, 1, ... as application/octet-stream.
    return not_implemented("04-responses.md")


@app.get("/old-page")
def old_page():
    # TODO: a 301 redirect to /page.
    return not_implemented("04-responses.md")


# Exercise 5: exercises/05-openai-stream.md
from fastapi import Request  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402, F401  (you will want these)


# TODO: describe the JSON body with pydantic models: model, messages (each a role
#       and a content), stream, stream_options (include_usage) and delay (0 to 5,
#       default 0.2). Then take that model as the route's parameter instead of `request`.
@app.post("/v1/chat/completions")
async def chat_completions(request: Request):
    # TODO: reply with the last message whose role is "user", split into tokens.
    # TODO: stream false: one chat.completion object.
    # TODO: stream true: one chat.completion.chunk event per token, then the
    #       finish_reason chunk, the usage chunk when asked for, and data: [DONE].
    return not_implemented("05-openai-stream.md")
