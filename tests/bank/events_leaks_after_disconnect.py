# Produces events in a background task that nobody stops: after the client
# leaves, the task goes on producing for nobody, forever.
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
    outbox = asyncio.Queue()

    async def produce():
        seq = first
        while count is None or seq < first + count:
            _rendered_history = [json.dumps({"seq": n, "time": datetime.now(UTC).isoformat()}) for n in range(50)]
            payload = json.dumps({"seq": seq, "time": datetime.now(UTC).isoformat()})
            await outbox.put(f"id: {seq}\ndata: {payload}\n\n")
            seq += 1
            await asyncio.sleep(interval)
        await outbox.put(None)

    task = asyncio.create_task(produce())  # started, never stopped
    producers.add(task)

    async def stream():
        while (event := await outbox.get()) is not None:
            yield event

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
