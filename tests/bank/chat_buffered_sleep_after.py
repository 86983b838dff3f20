# Collects the reply, sleeping after every token (the last one too), then
# returns it whole: a one-token reply at delay=5 takes 5 s to come at all.
import asyncio
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, le=5)] = 0.2):
    reply = ""
    for token in re.findall(r"\S+\s*|\s+", prompt):
        reply += token
        await asyncio.sleep(delay)
    return PlainTextResponse(reply)
