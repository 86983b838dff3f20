# Correct events with sse-starlette, CRLF line endings, keep-alive pings
# and a retry field.
import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

app = FastAPI()


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
):
    start = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1

    async def stream():
        seq = start
        while count is None or seq < start + count:
            if seq > start:
                await asyncio.sleep(interval)
            payload = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            yield ServerSentEvent(data=payload, id=str(seq), retry=3000 if seq == start else None)
            seq += 1

    return EventSourceResponse(stream(), sep="\r\n", ping=1, headers={"Cache-Control": "no-cache"})
