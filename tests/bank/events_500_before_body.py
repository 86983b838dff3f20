# Reads Last-Event-ID without a default: without the header int(None)
# raises before the response starts, so every plain request gets a 500.
import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
):
    first = int(last_event_id) + 1

    async def stream():
        seq = first
        while count is None or seq < first + count:
            payload = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            yield f"id: {seq}\ndata: {payload}\n\n"
            seq += 1
            if count is None or seq < first + count:
                await asyncio.sleep(interval)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
