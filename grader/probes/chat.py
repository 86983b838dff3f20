"""Probe GET /chat-stream: content, token timing, and the event loop's health."""

from __future__ import annotations

import asyncio
import random

from grader.probes.http import local_client, probe_latencies, record_exchange
from grader.recording import ChatRecording

# The delay between tokens while timing. Long enough that a token's arrival
# stands clear of loopback and scheduling noise (a few ms), short enough that
# grading stays quick: six tokens take one second.
TIMING_DELAY = 0.2
TIMING_TOKENS = 6
CONCURRENT_STREAMS = 3
CONCURRENT_TOKENS = 3
OUT_OF_RANGE_DELAYS = ("-0.5", "5.5")

WORDS = ["stream", "token", "FastAPI", "chunk", "yield", "socket", "reply", "model", "async", "bytes"]
# Prompts that catch the usual mistakes: lost repeated or leading spaces,
# mangled non-ASCII text, and a newline inside the prompt.
FIXED_PROMPTS = ["  Grüße,   naïve café ☕ 世界! ", "one\ttwo\nthree  four"]


def pick_prompts(rng: random.Random) -> tuple[list[str], str]:
    """Prompts for this run: content prompts, and the six-token prompt timed alone."""
    words = rng.sample(WORDS, TIMING_TOKENS)
    timed = " ".join(words[:3]) + "  " + " ".join(words[3:]) + "!"
    return [*FIXED_PROMPTS, " ".join(rng.sample(WORDS, 4)) + " ✨"], timed


async def probe_chat(base_url: str, rng: random.Random) -> ChatRecording:
    content_prompts, timed_prompt = pick_prompts(rng)
    # A 6-token stream at 0.2 s takes 1 s; allow three times that and a margin.
    stream_timeout = TIMING_DELAY * TIMING_TOKENS * 3 + 5
    async with local_client(base_url, stream_timeout) as client:
        content = []
        for prompt in content_prompts:
            exchange = await record_exchange(
                client, "/chat-stream", params={"prompt": prompt, "delay": "0"}, timeout=10
            )
            content.append((prompt, exchange))

        solo = await record_exchange(
            client, "/chat-stream", params={"prompt": timed_prompt, "delay": str(TIMING_DELAY)},
            timeout=stream_timeout,
        )  # fmt: skip

        idle = await probe_latencies(client, count=3, window=0.03, timeout=5)
        concurrent_prompt = " ".join(rng.sample(WORDS, CONCURRENT_TOKENS))
        streams = [
            record_exchange(
                client, "/chat-stream", params={"prompt": concurrent_prompt, "delay": str(TIMING_DELAY)},
                timeout=stream_timeout,
            )  # fmt: skip
            for _ in range(CONCURRENT_STREAMS)
        ]
        # Probe while the streams run: they last (tokens - 1) * delay seconds.
        window = (CONCURRENT_TOKENS - 1) * TIMING_DELAY
        busy_task = asyncio.ensure_future(
            probe_latencies(client, count=8, window=window, timeout=stream_timeout)
        )
        concurrent = await asyncio.gather(*streams)
        busy = await busy_task

        validation = []
        for value in OUT_OF_RANGE_DELAYS:
            exchange = await record_exchange(
                client, "/chat-stream", params={"prompt": "x", "delay": value}, timeout=5, stop_after_bytes=1
            )
            validation.append((value, exchange))

    return ChatRecording(
        delay=TIMING_DELAY,
        content=content,
        solo_prompt=timed_prompt,
        solo=solo,
        concurrent=list(concurrent),
        idle_latencies=idle,
        busy_latencies=busy,
        validation=validation,
    )
