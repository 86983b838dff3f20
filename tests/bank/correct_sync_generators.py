# Correct, written with plain (sync) generators throughout: Starlette runs
# them in a worker thread, so time.sleep is fine here.
import json
import mimetypes
import os
import re
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                time.sleep(delay)
            yield token.encode("utf-8")

    return StreamingResponse(tokens(), media_type="text/plain; charset=utf-8")


def chunks(path):
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            yield chunk


@app.get("/bigfile")
def bigfile():
    path = os.environ.get("BIGFILE_PATH", "sample-data/bigfile.bin")
    if not os.path.isfile(path):
        raise HTTPException(status_code=404, detail="no such file")
    name = os.path.basename(path)
    return StreamingResponse(
        chunks(path),
        media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        headers={"Content-Length": str(os.path.getsize(path)), "Content-Disposition": f'attachment; filename="{name}"'},
    )


@app.get("/events")
def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
):
    start = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1

    def stream():
        seq = start
        while count is None or seq < start + count:
            if seq > start:
                time.sleep(interval)
            data = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            yield f"id: {seq}\ndata: {data}\n\n"
            seq += 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


# Exercise 4: plain Response objects with their media types, the stream a sync generator.
from fastapi.responses import Response


@app.get("/hello")
def hello(name: str = "world"):
    return Response(f"Hello, {name}!", media_type="text/plain; charset=utf-8")


@app.get("/page")
def page():
    return Response("<!DOCTYPE html><html><body><h1>Responses</h1></body></html>", media_type="text/html")


def squares(rows: int):
    yield "n,square\n"
    for n in range(1, rows + 1):
        yield f"{n},{n * n}\n"


@app.get("/squares.csv")
def squares_csv(rows: int = 3):
    return Response(
        "".join(squares(rows)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="squares.csv"'},
    )


@app.get("/squares-stream.csv")
def squares_stream_csv(rows: int = 3):
    return StreamingResponse(squares(rows), media_type="text/csv")


@app.get("/bytes")
def counting_bytes(n: int = 256):
    return Response(bytes([i % 256 for i in range(n)]), media_type="application/octet-stream")


@app.get("/old-page")
def old_page():
    return Response(status_code=301, headers={"Location": "/page"})
