# Correct, with FileResponse for the download (ranges and HEAD come with it)
# and a async generators elsewhere.
import asyncio
import json
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
    return FileResponse(path, filename=os.path.basename(path))


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
