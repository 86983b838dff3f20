# One producer task per client, started and never cancelled: it only puts a
# number on a queue every interval, so it costs almost no CPU. Without count
# it goes on for nobody after the client leaves, waking the server forever.
import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import StreamingResponse

app = FastAPI()
producers = set()


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
):
    first = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1
    numbers = asyncio.Queue()

    async def produce():
        seq = first
        while count is None or seq < first + count:
            numbers.put_nowait(seq)
            seq += 1
            await asyncio.sleep(interval)
        numbers.put_nowait(None)

    producers.add(asyncio.create_task(produce()))  # started, never stopped

    async def stream():
        while (seq := await numbers.get()) is not None:
            payload = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            yield f"id: {seq}\ndata: {payload}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
