# Correct, with FileResponse for the download (ranges and HEAD come with it)
# and a async generators elsewhere.
import asyncio
import json
import mimetypes
import os
import re
from datetime import UTC, datetime

from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import FileResponse, StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: float = Query(0.2, ge=0, le=5)):
    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                await asyncio.sleep(delay)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain")


@app.api_route("/bigfile", methods=["GET", "HEAD"])
async def bigfile():
    path = os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin")
    if not os.path.isfile(path):
        raise HTTPException(status_code=404, detail="File not found")
    # FileResponse guesses text/plain for a name mimetypes can't guess: the contract says octet-stream.
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return FileResponse(path, filename=os.path.basename(path), media_type=media_type)


@app.get("/events")
async def events(
    interval: float = Query(1.0, ge=0.01, le=60),
    count: int | None = Query(None, ge=1),
    last_event_id: str | None = Header(None),
):
    first = int(last_event_id) + 1 if (last_event_id or "").isdigit() else 1

    async def stream():
        for n in range(count or 10**12):
            if n:
                await asyncio.sleep(interval)
            yield "id: %d\r\ndata: %s\r\n\r\n" % (
                first + n,
                json.dumps({"seq": first + n, "time": datetime.now(UTC).isoformat()}),
            )

    return StreamingResponse(
        stream(), media_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


# Exercise 4: the decorator names each route's class; the download is a FileResponse of a file written first.
import tempfile
from pathlib import Path

from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

SCRATCH = Path(tempfile.mkdtemp(prefix="bank-squares-"))


@app.get("/hello", response_class=PlainTextResponse)
async def hello(name: str = "world"):
    return f"Hello, {name}!"


@app.get("/page", response_class=HTMLResponse)
async def page():
    return "<!DOCTYPE html>\n<h1>Responses</h1>"


def squares_text(rows: int) -> str:
    return "n,square\r\n" + "".join(f"{n},{n * n}\r\n" for n in range(1, rows + 1))


@app.get("/squares.csv")
def squares_csv(rows: int = 3):
    path = SCRATCH / f"{rows}.csv"
    path.write_text(squares_text(rows), newline="")
    return FileResponse(path, filename="squares.csv")


@app.get("/squares-stream.csv")
async def squares_stream_csv(rows: int = 3):
    async def lines():
        for line in squares_text(rows).splitlines(keepends=True):
            yield line

    return StreamingResponse(lines(), media_type="text/csv")


@app.get("/bytes")
async def counting_bytes(n: int = 256):
    return Response(bytes(i % 256 for i in range(n)), media_type="application/octet-stream")


@app.get("/old-page", response_class=RedirectResponse, status_code=301)
async def old_page():
    return "/page"
