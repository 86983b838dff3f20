# Correct exercise 5 with sse-starlette, the body read by hand, OpenAI-style error bodies, and the role in a
# chunk of its own (content "") before the tokens, as OpenAI's own API sends it.
import asyncio
import json
import re
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

app = FastAPI()
TOKEN = re.compile(r"\S+\s*|\s+")


def error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=status)


@app.post("/v1/chat/completions")
async def chat_completions(request: Request):
    try:
        body = await request.json()
    except ValueError:
        return error("the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return error("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error("messages must be a non-empty list")
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        return error("every message needs a text content")
    delay = body.get("delay", 0.2)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 5:
        return error("delay must be a number from 0 to 5")
    users = [m["content"] for m in messages if m.get("role") == "user"]
    if not users:
        return error("no message with role user")
    tokens = TOKEN.findall(users[-1])
    prompt = sum(len(TOKEN.findall(m["content"])) for m in messages)
    usage = {"prompt_tokens": prompt, "completion_tokens": len(tokens), "total_tokens": prompt + len(tokens)}
    head = {"id": "chatcmpl-sse-starlette", "created": int(time.time()), "model": body["model"]}

    if not body.get("stream"):
        message = {"role": "assistant", "content": users[-1]}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {**head, "object": "chat.completion", "choices": [choice], "usage": usage}

    def chunk(delta, finish=None):
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"data": json.dumps({**head, "object": "chat.completion.chunk", "choices": [choice]})}

    async def events():
        yield chunk({"role": "assistant", "content": ""})
        for index, token in enumerate(tokens):
            if index:
                await asyncio.sleep(delay)
            yield chunk({"content": token})
        yield chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            yield {"data": json.dumps({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events())
