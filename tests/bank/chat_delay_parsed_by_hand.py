# Checks the range by hand on a text parameter: a delay that is not a number
# makes float() raise, and the client gets a 500 instead of a 422.
import asyncio
import re

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: str = "0.2"):
    seconds = float(delay)
    if not 0 <= seconds <= 5:
        raise HTTPException(status_code=422, detail="delay must be between 0 and 5")

    async def tokens():
        for index, token in enumerate(re.findall(r"\S+\s*|\s+", prompt)):
            if index:
                await asyncio.sleep(seconds)
            yield token

    return StreamingResponse(tokens(), media_type="text/plain; charset=utf-8")
