# Waits for every token, then sends the whole reply at once.
import asyncio
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    reply = ""
    for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
        if index:
            await asyncio.sleep(delay)
        reply += token
    return PlainTextResponse(reply)
