# Correct exercise 5 with FastAPI's own SSE response and pydantic models for the request and the chunks;
# finish_reason on the last token's chunk instead of a chunk of its own.
import asyncio
import re
import time
import uuid
from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, Field

app = FastAPI()
TOKEN = re.compile(r"\S+\s*|\s+")


class Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str


class StreamOptions(BaseModel):
    include_usage: bool = False


class Body(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions = StreamOptions()
    delay: float = Field(default=0.2, ge=0, le=5)


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Chunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


@app.post("/v1/chat/completions")
async def chat_completions(body: Body):
    last = next((m.content for m in reversed(body.messages) if m.role == "user"), None)
    if last is None:
        raise HTTPException(status_code=422, detail="at least one user message is needed")
    tokens = TOKEN.findall(last)
    prompt = sum(len(TOKEN.findall(m.content)) for m in body.messages)
    usage = Usage(prompt_tokens=prompt, completion_tokens=len(tokens), total_tokens=prompt + len(tokens))
    ident, created = f"chatcmpl-{uuid.uuid4()}", int(time.time())
    if not body.stream:
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": last}, "finish_reason": "stop"}],
            "usage": usage.model_dump(),
        }

    def event(chunk: Chunk) -> bytes:
        return format_sse_event(data_str=chunk.model_dump_json())

    async def stream():
        for index, token in enumerate(tokens):
            if index:
                await asyncio.sleep(body.delay)
            delta = Delta(role="assistant" if index == 0 else None, content=token)
            finish = "stop" if index == len(tokens) - 1 else None
            choice = ChunkChoice(delta=delta, finish_reason=finish)
            yield event(Chunk(id=ident, created=created, model=body.model, choices=[choice]))
        if body.stream_options.include_usage:
            yield event(Chunk(id=ident, created=created, model=body.model, choices=[], usage=usage))
        yield format_sse_event(data_str="[DONE]")

    return EventSourceResponse(stream())
