# Correct events with FastAPI's own Server-Sent Events support.
import asyncio
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

app = FastAPI()


@app.get("/events", response_class=EventSourceResponse)
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterable[ServerSentEvent]:
    seq = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1
    sent = 0
    while count is None or sent < count:
        if sent:
            await asyncio.sleep(interval)
        yield ServerSentEvent(data={"seq": seq, "time": datetime.now(UTC).isoformat()}, id=str(seq))
        seq += 1
        sent += 1
