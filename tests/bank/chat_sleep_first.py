# Sleeps before every token, the first one included.
import asyncio
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    async def tokens():
        for token in re.findall(r"\S+\s*|\s+", prompt):
            await asyncio.sleep(delay)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain")
