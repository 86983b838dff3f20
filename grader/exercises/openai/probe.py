"""Probe POST /v1/chat/completions with the official openai client and with raw sockets.

Three servers per app, probed at the same time beside the other exercises'
timing probes (phase 1, ``probe``):

- ``probe_openai``: raw streams for shape and framing, one stream timed
  alone, and streams that load the server while its event loop is probed,
  exactly as exercise 1's (``probes.chat``'s constants and ``probes.http``).
- ``probe_openai_more``: the official ``openai`` client (streaming, timed as
  its caller sees the chunks; stream false; a refused request), malformed
  bodies, and the default and a second delay.
- ``probe_openai_disconnect``: long streams that the clients leave, and the
  server's wake-ups and CPU before and after, as exercise 3's disconnect
  probe measures them.

The ``openai`` package takes about 0.3 s of CPU to import: it is
imported in a thread of its own as soon as a grading process knows it grades
this exercise (``prefetching``, the exercise's ``warm_up``), and
``OpenaiRun`` waits for it before the probes, so no probe's timing pays for
it on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import importlib
import json
import random
import time
from typing import Any

import httpx

from grader.contract import TOKEN_PATTERN
from grader.exercises import Floor
from grader.exercises.chat.probe import (
    CONCURRENT_DELAY,
    CONCURRENT_STREAMS,
    CONCURRENT_TOKENS,
    FIXED_PROMPTS,
    SECOND_DELAYS,
    TIMING_DELAYS,
    TIMING_TOKENS,
    WORDS,
    stream_timeout,
)
from grader.exercises.openai.recording import ClientChunk, ClientRun, OpenaiRecording, RawReply
from grader.launch import Meter
from grader.probes.context import ExerciseRun, ProbeContext, RunSettings
from grader.probes.disconnect import CPU_WINDOW, IDLE_WINDOW, DisconnectRecording, probe_leaving
from grader.probes.http import local_client, probe_latencies, record_exchange

PATH = "/v1/chat/completions"
JSON = {"Content-Type": "application/json"}
DEFAULT_DELAY = 0.2  # the page's default for `delay`
# Replies read for their shape with a tiny delay rather than 0, as exercise 1's content.
CONTENT_DELAY = 0.001
# The client's own timed stream: four tokens at a delay short enough to cost
# little (0.3 s) and long enough that a buffered reply, which the client
# hands over all at once, is told from one handed over token by token.
CLIENT_DELAY = 0.1
CLIENT_TOKENS = 4
# The default delay is timed on a reply of four tokens: three gaps, so one
# token read late on a loaded machine (which shortens the gap after it) does
# not move the median; with two gaps the median is their mean, and it did.
DEFAULT_TOKENS = 4
SECOND_TOKENS = 2
# Disconnect: long replies (one-letter tokens) at a fast delay, so a model
# left generating for nobody wakes the server 50 times a second per stream,
# for seconds after the clients left: far longer than the probe's windows.
DISCONNECT_STREAMS = 5
DISCONNECT_DELAY = 0.02
DISCONNECT_TOKENS = 400
# Bodies a server must refuse with a 4xx (what is wrong, the body as sent).
HISTORY_SYSTEM = "You are a fake model: you repeat the last user message."


# A canned stream for prefetch's rehearsal: one chunk, then [DONE].
REHEARSAL = (
    b'data: {"id": "r", "object": "chat.completion.chunk", "created": 0, "model": "r", "choices": '
    b'[{"index": 0, "delta": {"role": "assistant", "content": "r"}, "finish_reason": null}]}\n\ndata: [DONE]\n\n'
)


def prefetch() -> None:
    """Import the openai package and rehearse one streamed call on a canned answer (in a worker thread).

    Importing takes about 0.3 s of CPU (httpx and pydantic already loaded,
    as in a grading process), and the async client's first call more: its
    request builders and response types are set up on first use, it
    detects the platform for its headers (``platform``
    reads the Python binary, once per process), and the HTTP library's
    transport imports its connection pool. Done on the event loop, each
    would stall every probe timing a stream at that moment; a 5 ms ticker
    on the loop found stalls of 0.12 to 0.47 s as the timing probes began.
    The rehearsal goes through an in-memory transport: nothing leaves the
    process.
    """
    openai = importlib.import_module("openai")
    # The HTTP library the client is built on (httpx, or its successor httpx2 in openai 3).
    httpx_flavour = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])

    def canned(request: Any) -> Any:
        return httpx_flavour.Response(200, headers={"Content-Type": "text/event-stream"}, content=REHEARSAL)

    async def rehearse() -> None:
        transport = httpx_flavour.MockTransport(canned)
        async with openai.AsyncOpenAI(
            base_url="http://rehearsal.invalid/v1",
            api_key="any-key",
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(transport=transport),
        ) as client:
            stream = await client.chat.completions.create(
                model="r", messages=[{"role": "user", "content": "r"}], stream=True, extra_body={"delay": 0}
            )
            async for chunk in stream:
                read_chunk(chunk, 0.0)
        # The transport a real call goes through: built, never used.
        await official_client("http://rehearsal.invalid", 1.0).close()

    asyncio.run(rehearse())


@functools.cache
def prefetching() -> concurrent.futures.Future[None]:
    """``prefetch``, started once per process in a thread of its own: the first call starts it."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="openai-prefetch")
    future = pool.submit(prefetch)
    pool.shutdown(wait=False)
    return future


def pick_model(rng: random.Random) -> str:
    """A model name drawn per run: it must come back in every chunk, so it can't be hard-coded."""
    return f"fake-{rng.randrange(16**4):04x}"


def conversation(rng: random.Random, last: str) -> list[dict[str, str]]:
    """A conversation whose last user message is ``last``, with earlier turns an app might echo by mistake."""
    return [
        {"role": "system", "content": HISTORY_SYSTEM},
        {"role": "user", "content": " ".join(rng.sample(WORDS, 3))},
        {"role": "assistant", "content": " ".join(rng.sample(WORDS, 2))},
        {"role": "user", "content": last},
    ]


def expected_usage(messages: list[dict[str, str]], reply: str) -> dict[str, int]:
    prompt = sum(len(TOKEN_PATTERN.findall(message["content"])) for message in messages)
    completion = len(TOKEN_PATTERN.findall(reply))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def body_of(
    model: str,
    messages: list[dict[str, str]],
    *,
    stream: bool = True,
    usage: bool = False,
    delay: float | None = CONTENT_DELAY,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if usage:
        body["stream_options"] = {"include_usage": True}
    if delay is not None:
        body["delay"] = delay
    return body


async def send_raw(client: httpx.AsyncClient, body: dict[str, Any], limit: float) -> RawReply:
    """POST ``body`` over a plain socket, every chunk timed; ``limit``: seconds for the whole answer."""
    messages = body["messages"]
    reply = messages[-1]["content"]
    text = json.dumps(body, ensure_ascii=False)
    exchange = await record_exchange(
        client, PATH, method="POST", headers=JSON, body=text.encode("utf-8"), timeout=limit
    )
    asked = bool(body.get("stream_options")) or not body.get("stream")
    return RawReply(text, reply, expected_usage(messages, reply) if asked else None, body.get("delay"), exchange)


def malformed_bodies(model: str) -> list[tuple[str, bytes]]:
    user = [{"role": "user", "content": "x"}]
    as_json = lambda value: json.dumps(value).encode()  # noqa: E731
    return [
        ("a body that is not JSON", b"this is not JSON"),
        ("no model", as_json({"messages": user, "stream": True})),
        ("an empty messages list", as_json({"model": model, "messages": [], "stream": True})),
        ("no message with role user", as_json({"model": model, "messages": [{"role": "system", "content": "x"}]})),
        ("delay 9 (more than 5)", as_json({"model": model, "messages": user, "stream": True, "delay": 9})),
    ]


async def probe_openai(base_url: str, rng: random.Random) -> OpenaiRecording:
    """Raw streams: shape, one timed alone, and several while the event loop is probed (as exercise 1)."""
    model = pick_model(rng)
    delay = rng.choice(TIMING_DELAYS)
    words = rng.sample(WORDS, TIMING_TOKENS)
    timed = " ".join(words[:2]) + "  " + " ".join(words[2:]) + "!"
    timeout = stream_timeout(max(delay, CONCURRENT_DELAY), TIMING_TOKENS)
    async with local_client(base_url, timeout) as client:
        content = [
            await send_raw(client, body_of(model, conversation(rng, FIXED_PROMPTS[0]), usage=True), 10),
            await send_raw(client, body_of(model, [{"role": "user", "content": FIXED_PROMPTS[1]}]), 10),
        ]
        solo = await send_raw(
            client, body_of(model, [{"role": "user", "content": timed}], usage=True, delay=delay), timeout
        )

        idle = await probe_latencies(client, count=3, window=0.03, timeout=5)
        concurrent_reply = " ".join(rng.sample(WORDS, CONCURRENT_TOKENS))
        concurrent_body = body_of(model, [{"role": "user", "content": concurrent_reply}], delay=CONCURRENT_DELAY)
        streams = [send_raw(client, concurrent_body, timeout) for _ in range(CONCURRENT_STREAMS)]
        window = (CONCURRENT_TOKENS - 1) * CONCURRENT_DELAY
        busy_task = asyncio.ensure_future(probe_latencies(client, count=8, window=window, timeout=timeout))
        concurrent = await asyncio.gather(*streams)
        busy = await busy_task

    return OpenaiRecording(
        delay=delay,
        content=content,
        solo=solo,
        concurrent=[reply.exchange for reply in concurrent],
        idle_latencies=idle,
        busy_latencies=busy,
        concurrent_delay=CONCURRENT_DELAY,
        concurrent_reply=concurrent_reply,
    )


def described(error: BaseException) -> tuple[str, int | None]:
    """What the client's caller sees: the exception's type and message, and the status of a status error."""
    openai = importlib.import_module("openai")
    status = error.status_code if isinstance(error, openai.APIStatusError) else None
    text = str(error).strip()
    return (f"{type(error).__name__}: {text}" if text else type(error).__name__), status


def read_chunk(chunk: Any, at: float) -> ClientChunk:
    """Read a chunk the way callers do (``chunk.choices[0].delta.content``): a wrong shape raises here, as for them."""
    choices = chunk.choices
    usage = chunk.usage.model_dump(exclude_none=True) if getattr(chunk, "usage", None) is not None else None
    if not choices:
        return ClientChunk(at, False, None, None, None, usage)
    choice = choices[0]
    return ClientChunk(at, True, choice.delta.content, choice.delta.role, choice.finish_reason, usage)


# What a caller's loop can meet from a server's mistakes: the client's own
# errors, and a chunk that lacks a field the loop reads (the client builds its
# objects without validating them, so a missing field raises on access).
CALLER_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)


async def run_client(client: Any, body: dict[str, Any], limit: float) -> ClientRun:
    """One call through the official client, with what its caller receives (never raises for the server's doing)."""
    openai = importlib.import_module("openai")
    messages, stream = body["messages"], body.get("stream", False)
    reply = messages[-1]["content"] if messages else ""
    asked = bool(body.get("stream_options")) or not stream
    run = ClientRun(
        json.dumps(body, ensure_ascii=False),
        reply,
        expected_usage(messages, reply) if asked else None,
        stream,
        float(body.get("delay", DEFAULT_DELAY)),
    )
    arguments = {key: value for key, value in body.items() if key not in ("delay",)}
    extra = {"delay": body["delay"]} if "delay" in body else None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            result = await client.chat.completions.create(**arguments, extra_body=extra)
            if stream:
                async for chunk in result:
                    run.chunks.append(read_chunk(chunk, time.perf_counter() - started))
            else:
                choice = result.choices[0]
                run.completion = {
                    "object": result.object,
                    "model": result.model,
                    "content": choice.message.content,
                    "role": choice.message.role,
                    "finish_reason": choice.finish_reason,
                    "usage": result.usage.model_dump(exclude_none=True) if result.usage is not None else None,
                }
    except TimeoutError:
        run.error = f"no complete answer within {limit:g} s"
    except (openai.OpenAIError, *CALLER_ERRORS) as error:
        run.error, run.error_status = described(error)
    run.seconds = time.perf_counter() - started
    return run


def official_client(base_url: str, timeout: float) -> Any:
    """The official async client as an app's users make it, pointed at ``base_url``.

    No retries (the client retries a 5xx twice with a back-off, which would
    hide the first answer and cost seconds), and an HTTP client without TLS
    verification or proxies from the environment (building a TLS context
    blocks the event loop for a tenth of a second; see ``probes.http.local_client``).
    """
    openai = importlib.import_module("openai")
    http_client = openai.DefaultAsyncHttpxClient(verify=False, trust_env=False, timeout=timeout)
    return openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="any-key", max_retries=0, http_client=http_client)


async def probe_openai_more(base_url: str, rng: random.Random) -> dict[str, Any]:
    """On a second server: the official client, malformed bodies, and the default and a second delay.

    The client's timed stream runs alone (a blocked loop would stretch it
    beside another stream); then the paced replies, beside the requests
    whose answers are read for their content only: those take no waits,
    and beside the paced replies they cost a grading no time.
    """
    model = pick_model(rng)
    second_delay = rng.choice(SECOND_DELAYS)
    timeout = stream_timeout(max(second_delay, DEFAULT_DELAY), DEFAULT_TOKENS)
    client = official_client(base_url, timeout)
    try:
        async with local_client(base_url, timeout) as raw:
            timed = " ".join(rng.sample(WORDS, CLIENT_TOKENS))
            timed_run = await run_client(
                client, body_of(model, [{"role": "user", "content": timed}], usage=True, delay=CLIENT_DELAY), timeout
            )
            # Drawn before either task runs, so a run's requests don't depend on which answers first.
            history, completion_body = conversation(rng, FIXED_PROMPTS[1]), conversation(rng, FIXED_PROMPTS[0])
            default = [{"role": "user", "content": " ".join(rng.sample(WORDS, DEFAULT_TOKENS))}]
            second = [{"role": "user", "content": " ".join(rng.sample(WORDS, SECOND_TOKENS))}]

            async def paced_replies() -> list[RawReply]:
                return [
                    await send_raw(raw, body_of(model, default, delay=None), timeout),
                    await send_raw(raw, body_of(model, second, delay=second_delay), timeout),
                ]

            async def read_for_content() -> dict[str, Any]:
                history_run = await run_client(client, body_of(model, history), timeout)
                completion = await run_client(client, body_of(model, completion_body, stream=False), timeout)
                refused = await run_client(client, body_of(model, []), 5)
                raw_completion = await send_raw(raw, body_of(model, completion_body, stream=False), 10)
                malformed = []
                for what, content in malformed_bodies(model):
                    exchange = await record_exchange(raw, PATH, method="POST", headers=JSON, body=content, timeout=5)
                    malformed.append((what, RawReply(content.decode(), "", None, None, exchange)))
                return {
                    "clients": [timed_run, history_run],
                    "completion": completion,
                    "refused": refused,
                    "raw_completion": raw_completion,
                    "malformed": malformed,
                }

            paced, answers = await asyncio.gather(paced_replies(), read_for_content())
    finally:
        await client.close()
    return {**answers, "paced": paced}


async def probe_openai_disconnect(base_url: str, meter: Meter) -> DisconnectRecording:
    """Open long streams, leave them, and compare the server's activity before, during and after."""
    body = body_of("fake", [{"role": "user", "content": "a " * DISCONNECT_TOKENS}], delay=DISCONNECT_DELAY)
    content = json.dumps(body).encode()
    return await probe_leaving(
        base_url,
        meter,
        lambda client: client.stream("POST", PATH, content=content, headers=JSON),
        streams=DISCONNECT_STREAMS,
        interval=DISCONNECT_DELAY,
    )


class OpenaiRun(ExerciseRun):
    """The exercise's part of a recording run: the openai package imported before its probes (``prefetching``)."""

    def __init__(self, settings: RunSettings) -> None:
        super().__init__(settings)
        self.prefetched = prefetching()  # started by the warm-up, or now

    async def ready(self) -> None:
        # The import holds the interpreter: beside the timing probes it delayed the
        # reading of a chat token by 0.15 s. A failure is said by this exercise's probe.
        await asyncio.gather(asyncio.wrap_future(self.prefetched), return_exceptions=True)

    async def close(self) -> None:
        await asyncio.gather(asyncio.wrap_future(self.prefetched), return_exceptions=True)


async def probe(ctx: ProbeContext, earlier: None) -> OpenaiRecording:
    """The whole exercise: raw streams on its server, the official client beside it, the disconnect on a third."""
    run = ctx.run
    assert isinstance(run, OpenaiRun)
    await asyncio.wrap_future(run.prefetched)  # a failed import is the grader's error, said as such
    gone = ctx.server("gone")
    recording, more, disconnect = await asyncio.gather(
        probe_openai(ctx.main.base_url, ctx.rng()),
        probe_openai_more(ctx.server("more").base_url, ctx.rng("more")),
        probe_openai_disconnect(gone.base_url, gone.meter),
    )
    return dataclasses.replace(recording, **more, disconnect=disconnect)


def floor() -> Floor:
    """The waits: three servers at once, the longest counts, at the largest delays a run can draw."""
    raw = (TIMING_TOKENS - 1) * max(TIMING_DELAYS) + (CONCURRENT_TOKENS - 1) * CONCURRENT_DELAY
    client = (
        (CLIENT_TOKENS - 1) * CLIENT_DELAY
        + (DEFAULT_TOKENS - 1) * DEFAULT_DELAY
        + (SECOND_TOKENS - 1) * max(SECOND_DELAYS)
    )
    # idle baseline, streaming window, settle, quiet window
    disconnect = IDLE_WINDOW + 2 * CPU_WINDOW + 0.1
    waits = max(raw, client, disconnect)
    return Floor(timing=waits, alone=waits)
