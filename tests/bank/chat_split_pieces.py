# Splits on \S+|\s+: a word and its spaces go out as two pieces, each delay after the other,
# so every contract token takes 2 x delay.
import asyncio
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    async def tokens():
        for index, token in enumerate(re.findall(r"\S+|\s+", prompt)):
            if index:
                await asyncio.sleep(delay)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain; charset=utf-8")
