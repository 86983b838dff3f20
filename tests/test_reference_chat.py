"""The reference meets exercise 1: GET /chat-stream streams tokens as they are made."""

from __future__ import annotations

import itertools
import re
import statistics
import time

import anyio
import httpx
import pytest
from helpers import record

# What it sends and which delays it accepts: in process (conftest.py says why
# that is enough for them); timing over TCP, marked slow.

TOKEN_PATTERN = re.compile(r"\S+\s*|\s+")
DELAY = 0.1


def tokens(prompt: str) -> list[str]:
    return TOKEN_PATTERN.findall(prompt)


def bursts(chunks: list[tuple[float, bytes]], quiet: float) -> list[tuple[float, bytes]]:
    """Merge chunks that arrive less than ``quiet`` seconds apart: a token may span reads."""
    merged: list[tuple[float, bytes]] = []
    for at, chunk in chunks:
        if merged and at - merged[-1][0] < quiet:
            merged[-1] = (merged[-1][0], merged[-1][1] + chunk)
        else:
            merged.append((at, chunk))
    return merged


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("Hello from FastAPI!", id="plain"),
        pytest.param("  leading   and  repeated   spaces ", id="whitespace"),
        pytest.param("Grüße, 世界! 🚀 naïve café", id="unicode"),
        pytest.param("line one\nline two\ttabbed", id="newlines-and-tabs"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.anyio
async def test_it_echoes_the_prompt_exactly(reference_in_process, prompt):
    response = await reference_in_process.get("/chat-stream", params={"prompt": prompt, "delay": 0})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == prompt.encode("utf-8")


@pytest.mark.anyio
async def test_the_default_prompt_is_hello_from_fastapi(reference_in_process):
    response = await reference_in_process.get("/chat-stream", params={"delay": 0})
    assert response.text == "Hello from FastAPI!"


@pytest.mark.slow
def test_tokens_arrive_one_by_one_delay_apart(reference):
    prompt = "one two  three four five six"
    with httpx.Client(base_url=reference.base_url) as client:
        recording = record(client, "/chat-stream", params={"prompt": prompt, "delay": DELAY})

    # Chunks closer together than half the delay belong to one token.
    arrived = bursts(recording.chunks, quiet=DELAY / 2)
    assert [chunk.decode() for _, chunk in arrived] == tokens(prompt)

    times = [at for at, _ in arrived]
    # The first token is sent at once: long before the last one is due.
    assert times[0] < (times[-1] - times[0]) / 2
    # asyncio.sleep never wakes early, but one late wake-up shortens the next
    # gap: judge the median, with room for a busy machine.
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert DELAY * 0.75 <= statistics.median(gaps) <= DELAY * 3


@pytest.mark.parametrize("delay", ["-0.1", "5.01", "abc"])
@pytest.mark.anyio
async def test_an_out_of_range_delay_is_rejected(reference_in_process, delay):
    response = await reference_in_process.get("/chat-stream", params={"delay": delay})
    assert response.status_code == 422


@pytest.mark.parametrize("delay", ["0", "5"])
@pytest.mark.slow
def test_the_delay_bounds_are_inclusive(reference, delay):
    with (
        httpx.Client(base_url=reference.base_url) as client,
        client.stream("GET", "/chat-stream", params={"prompt": "a b", "delay": delay}) as response,
    ):
        assert response.status_code == 200
        # The first token comes at once; no need to wait out a 5 s delay.
        assert next(response.iter_raw()) == b"a "


async def probe_latencies(base_url: str, count: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get("/openapi.json")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            await anyio.sleep(0.02)  # spread the probes over the streams' lifetime
    return latencies


@pytest.mark.slow
@pytest.mark.anyio
async def test_other_requests_are_answered_while_streams_run(reference):
    idle = statistics.median(await probe_latencies(reference.base_url, 5))

    async def stream_one() -> None:
        async with httpx.AsyncClient(base_url=reference.base_url, timeout=10) as client:
            params = {"prompt": "a b c d e f g h", "delay": 0.1}
            async with client.stream("GET", "/chat-stream", params=params) as response:
                async for _ in response.aiter_raw():
                    pass

    busy: list[float] = []
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(stream_one)
        busy = await probe_latencies(reference.base_url, 10)

    # A blocked loop would hold each probe for up to a whole delay; a free
    # one answers about as fast as when idle.
    assert statistics.median(busy) < idle + DELAY / 2
