# Writes 300 MB to stderr at import, then serves a correct chat stream.
import asyncio
import sys

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

MARKER = "@MARKER@"

line = b"flood " * 174762 + b"\n"  # about 1 MiB
for _ in range(300):
    sys.stderr.buffer.write(line)
sys.stderr.flush()

app = FastAPI()


@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello from FastAPI!", delay: float = Query(0.05, ge=0, le=2)):
    async def tokens():
        for index, token in enumerate(prompt.split(" ")):
            if index:
                await asyncio.sleep(delay)
            yield token if index == 0 else " " + token

    return StreamingResponse(tokens(), media_type="text/plain")
