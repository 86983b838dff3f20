"""The reference's chat and events, logging the moment each piece is handed to the server.

For the timing-precision benchmark: each line of $STREAMGRADE_BENCH_LOG is
"<kind> <request key> <index> <wall clock ns>", written just before the
yield that hands the piece to Starlette.
"""

import asyncio
import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import StreamingResponse

app = FastAPI()
LOG = open(os.environ["STREAMGRADE_BENCH_LOG"], "a", buffering=1)  # noqa: SIM115 - lives as long as the app


def handed(kind: str, key: str, index: int) -> None:
    LOG.write(f"{kind} {key} {index} {time.time_ns()}\n")


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    key = hashlib.sha1(f"{prompt}|{delay}".encode()).hexdigest()[:12]

    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                await asyncio.sleep(delay)
            handed("chat", key, index)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain; charset=utf-8")


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
):
    first = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1
    key = f"{interval}:{count}:{first}"

    async def stream():
        sent = 0
        while count is None or sent < count:
            if sent:
                await asyncio.sleep(interval)
            payload = json.dumps({"seq": first + sent, "time": datetime.now(UTC).isoformat()})
            handed("events", key, sent)
            yield f"id: {first + sent}\ndata: {payload}\n\n"
            sent += 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
