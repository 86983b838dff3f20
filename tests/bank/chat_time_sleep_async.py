# time.sleep inside an async generator: the whole server stalls while it waits.
import re
import time
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                time.sleep(delay)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain")
