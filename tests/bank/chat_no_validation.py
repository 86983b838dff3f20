# No limits on delay: a negative or huge delay is accepted.
import asyncio
import re

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: float = 0.2):
    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                await asyncio.sleep(max(delay, 0))
            yield token

    return StreamingResponse(tokens(), media_type="text/plain")
