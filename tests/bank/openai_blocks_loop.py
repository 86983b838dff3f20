# Waits with time.sleep inside an async generator: the whole server stops between tokens.
import json
import re
import time
import uuid

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

app = FastAPI()
TOKEN = re.compile(r"\S+\s*|\s+")


class Message(BaseModel):
    role: str
    content: str


class Options(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: Options | None = None
    delay: float = Field(0.2, ge=0, le=5)


def usage(request, tokens):
    prompt = sum(len(TOKEN.findall(message.content)) for message in request.messages)
    return {"prompt_tokens": prompt, "completion_tokens": len(tokens), "total_tokens": prompt + len(tokens)}


@app.post("/v1/chat/completions")
async def chat_completions(request: ChatRequest):
    users = [message for message in request.messages if message.role == "user"]
    if not users:
        raise HTTPException(400, "no user message")
    reply = users[-1].content
    tokens = TOKEN.findall(reply)
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": request.model}
    if not request.stream:
        return {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": usage(request, tokens),
        }

    def event(choices, **extra):
        return "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": choices, **extra}) + "\n\n"

    async def generate():
        for index, token in enumerate(tokens):
            if index:
                time.sleep(request.delay)
            delta = {"role": "assistant", "content": token} if index == 0 else {"content": token}
            yield event([{"index": 0, "delta": delta, "finish_reason": None}])
        yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if request.stream_options and request.stream_options.include_usage:
            yield event([], usage=usage(request, tokens))
        yield "data: [DONE]\n\n"

    return StreamingResponse(generate(), media_type="text/event-stream")
