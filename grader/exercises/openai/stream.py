"""Read a recorded chat stream the way OpenAI's clients do, and judge each chunk by the package's own type.

Pure functions of a recorded body. The events are read by ``grader.sse``
(the WHATWG algorithm, which the ``openai`` package's decoder follows too);
each ``data:`` is then a JSON ``chat.completion.chunk``, validated strictly
against ``openai.types.chat.ChatCompletionChunk``, until ``data: [DONE]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pydantic

from grader import sse
from grader.contract import TOKEN_PATTERN
from grader.recording import Exchange
from grader.timing import arrival_at_offsets

DONE = "[DONE]"


@dataclass
class StreamChunk:
    """One event of the stream before ``[DONE]``."""

    data: str  # the event's data, as sent
    end: int  # the byte offset just after the event (its arrival is the arrival of this byte)
    value: dict | None  # the JSON object, when the data is one
    problem: str  # why it is not a valid chat.completion.chunk ("" when it is)

    @property
    def choices(self) -> list[dict]:
        choices = (self.value or {}).get("choices")
        return [choice for choice in choices if isinstance(choice, dict)] if isinstance(choices, list) else []

    @property
    def delta(self) -> dict:
        delta = self.choices[0].get("delta") if self.choices else None
        return delta if isinstance(delta, dict) else {}

    @property
    def content(self) -> str | None:
        content = self.delta.get("content")
        return content if isinstance(content, str) else None


@dataclass
class Transcript:
    chunks: list[StreamChunk] = field(default_factory=list)
    done: bool = False  # a data: [DONE] event came
    after_done: int = 0  # events after [DONE] (a client never reads them)
    unfinished: str = ""  # the body ended inside an event: a client drops it

    @property
    def first_problem(self) -> StreamChunk | None:
        return next((chunk for chunk in self.chunks if chunk.problem), None)

    def content(self) -> str:
        return "".join(chunk.content or "" for chunk in self.chunks)

    def content_chunks(self) -> list[StreamChunk]:
        """The chunks that carry some of the reply (a role-only chunk with "" carries none)."""
        return [chunk for chunk in self.chunks if chunk.content]


def validation_problem(error: pydantic.ValidationError) -> str:
    """The first thing the package's type refuses, in a line: "choices.0.delta: Field required"."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the chunk"
    return f"{where}: {first['msg']}"


def openai_types() -> tuple[type[pydantic.BaseModel], type[pydantic.BaseModel]]:
    """The package's ChatCompletionChunk and ChatCompletion, imported on first use.

    Importing openai costs about 0.3 s of CPU: a grading that leaves
    exercise 5 out must not pay it (the probe imports it in a thread while
    the servers start, so by the time a check runs it is loaded).
    """
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    return ChatCompletionChunk, ChatCompletion


def judge_chunk(data: str) -> tuple[dict | None, str]:
    try:
        value = json.loads(data)
    except ValueError as error:
        return None, f"not JSON ({error})"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    try:
        openai_types()[0].model_validate(value)
    except pydantic.ValidationError as error:
        return value, validation_problem(error)
    return value, ""


def completion_problem(value: object) -> str:
    """Why a stream-false answer is not a valid chat.completion ("" when it is)."""
    try:
        openai_types()[1].model_validate(value)
    except pydantic.ValidationError as error:
        return validation_problem(error)
    return ""


def read_stream(body: bytes) -> Transcript:
    parsed = sse.parse(body)
    transcript = Transcript(unfinished=parsed.unfinished.message if parsed.unfinished else "")
    for event in parsed.events:
        if transcript.done:
            transcript.after_done += 1
        elif event.data.strip() == DONE:
            transcript.done = True
        else:
            value, problem = judge_chunk(event.data)
            transcript.chunks.append(StreamChunk(event.data, event.end, value, problem))
    return transcript


def content_arrivals(exchange: Exchange) -> list[float]:
    """When each chunk carrying reply text had fully arrived, in seconds after the request."""
    chunks = read_stream(exchange.body).content_chunks()
    return arrival_at_offsets(exchange.chunks, [chunk.end for chunk in chunks])


def token_count(text: str) -> int:
    return len(TOKEN_PATTERN.findall(text))
