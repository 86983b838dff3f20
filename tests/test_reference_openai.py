"""The reference meets exercise 5: POST /v1/chat/completions speaks OpenAI's chat format, to the official client."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

# Talks to the reference served by uvicorn over TCP.
pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "system", "content": "You echo."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "  Grüße,  café ☕ done"},
]
REPLY = "  Grüße,  café ☕ done"
# Tokens of every message's content, by the contract's pattern: 2 + 2 + 2 + 5.
USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}


def client_for(app) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app.base_url}/v1", api_key="any", max_retries=0)


def test_the_official_client_streams_the_last_user_message_with_finish_reason_and_usage(reference):
    stream = client_for(reference).chat.completions.create(
        model="fake-1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"delay": 0.01},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump(exclude_none=True) == USAGE
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {chunks[0].id} and {c.model for c in chunks} == {"fake-1"}


def test_the_raw_stream_is_chunks_then_done(reference):
    body = {"model": "m", "messages": [{"role": "user", "content": "a b"}], "stream": True, "delay": 0}
    response = httpx.post(f"{reference.base_url}/v1/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block.removeprefix("data: ") for block in response.text.split("\n\n") if block]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        ChatCompletionChunk.model_validate(json.loads(event))  # the package's own type, strictly


def test_tokens_come_a_delay_apart_the_first_at_once(reference):
    stream = client_for(reference).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one two three"}], stream=True, extra_body={"delay": 0.3}
    )
    started = time.perf_counter()
    times = [time.perf_counter() - started for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    assert len(times) == 3
    assert times[0] < 0.15 and 0.25 < times[1] - times[0] < 0.45 and 0.25 < times[2] - times[1] < 0.45


def test_stream_false_is_one_chat_completion(reference):
    completion = client_for(reference).chat.completions.create(model="m", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == REPLY and completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.model_dump(exclude_none=True) == USAGE


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"messages": [{"role": "user", "content": "x"}]}', id="no-model"),
        pytest.param(b'{"model": "m", "messages": []}', id="no-messages"),
        pytest.param(b'{"model": "m", "messages": [{"role": "system", "content": "x"}]}', id="no-user-message"),
        pytest.param(b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "delay": 9}', id="delay-9"),
    ],
)
def test_a_malformed_body_is_a_4xx_that_says_why(reference, body):
    response = httpx.post(
        f"{reference.base_url}/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.json()["detail"]


def test_the_client_raises_a_status_error_for_a_malformed_request(reference):
    with pytest.raises(openai.APIStatusError) as raised:
        client_for(reference).chat.completions.create(model="m", messages=[], stream=True)
    assert raised.value.status_code == 422
