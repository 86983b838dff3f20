# Ignores count: the stream never ends.
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
    first = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1

    async def stream():
        sent = 0
        while True:
            if sent:
                await asyncio.sleep(interval)
            seq = first + sent
            payload = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            yield f"id: {seq}\ndata: {payload}\n\n"
            sent += 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
