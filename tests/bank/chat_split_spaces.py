# prompt.split() and re-added single spaces: repeated and leading spaces are lost.
import asyncio
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    async def tokens():
        words = prompt.split()
        for index, word in enumerate(words):
            if index:
                await asyncio.sleep(delay)
            yield word + (" " if index < len(words) - 1 else "")

    return StreamingResponse(tokens(), media_type="text/plain")
