# Correct exercise 5 with a plain (sync) generator, which Starlette runs in a worker thread (so time.sleep is
# fine there), and the chunks built with the openai package's own types.
import re
import time
import uuid

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel, Field

app = FastAPI()
TOKEN = re.compile(r"\S+\s*|\s+")


class Message(BaseModel):
    role: str
    content: str


class Options(BaseModel):
    include_usage: bool = False


class Body(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: Options | None = None
    delay: float = Field(0.2, ge=0, le=5)


@app.post("/v1/chat/completions")
def chat_completions(body: Body):
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise HTTPException(400, "messages has no user message")
    reply = users[-1].content
    tokens = TOKEN.findall(reply)
    prompt = sum(len(TOKEN.findall(m.content)) for m in body.messages)
    usage = CompletionUsage(prompt_tokens=prompt, completion_tokens=len(tokens), total_tokens=prompt + len(tokens))
    common = {"id": uuid.uuid4().hex, "created": int(time.time()), "model": body.model}
    if not body.stream:
        choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        completion = ChatCompletion(**common, object="chat.completion", choices=[choice], usage=usage)
        return completion.model_dump(exclude_none=True)

    def line(**fields) -> str:
        chunk = ChatCompletionChunk(**common, object="chat.completion.chunk", **fields)
        return f"data: {chunk.model_dump_json()}\n\n"

    def generate():
        for index, token in enumerate(tokens):
            if index:
                time.sleep(body.delay)
            delta = {"role": "assistant", "content": token} if index == 0 else {"content": token}
            yield line(choices=[{"index": 0, "delta": delta, "finish_reason": None}])
        yield line(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if body.stream_options and body.stream_options.include_usage:
            yield line(choices=[], usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(generate(), media_type="text/event-stream")
