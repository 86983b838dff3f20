"""Probe GET /chat-stream: content, token timing, defaults, the allowed range, and the event loop's health."""

from __future__ import annotations

import asyncio
import dataclasses
import random

from grader.exercises import Floor
from grader.exercises.chat.contract import CHAT_DEFAULT_DELAY, CHAT_DEFAULT_PROMPT, CHAT_DELAY_LIMITS
from grader.exercises.chat.recording import ChatRecording, TimedReply
from grader.probes.context import ProbeContext
from grader.probes.http import local_client, probe_latencies, record_exchange
from grader.recording import Exchange

# The delays streams are timed at, drawn per run from the seed, never the
# default. Two values far enough apart that no fixed sleep passes both: a
# constant within the pacing tolerance (35 %) of 0.24 s is at most 0.324 s,
# one within it of 0.5 s at least 0.325 s. So an app that sleeps the 0.2 s of
# the usual notes fails the second. The solo stream's delay stays above the
# default, so its tolerance (77 ms and more) is no tighter than it was at
# 0.2 s: a shorter delay made correct apps fail on a loaded machine. The second
# stream runs on another server at the same time; one gap is enough there.
TIMING_DELAYS = (0.22, 0.24)
TIMING_TOKENS = 5
SECOND_DELAYS = (0.5, 0.55)
SECOND_TOKENS = 2
# The streams that load the server while its event loop is probed. Their
# pacing is not judged (a blocking app is judged by chat.nonblocking alone).
CONCURRENT_DELAY = 0.2
CONCURRENT_STREAMS = 3
CONCURRENT_TOKENS = 3
# Content is checked on replies sent with a tiny delay rather than 0: the
# range's ends are probed on their own (probe_chat_more), so an app that
# refuses delay=0 fails the range check only.
CONTENT_DELAY = "0.001"
REFUSED_DELAYS = ("-0.5", "5.5", "abc")
# Default prompt (3 tokens) at the default delay: two gaps, 0.4 s.
DEFAULT_TOKENS = len(CHAT_DEFAULT_PROMPT.split())

WORDS = ["stream", "token", "FastAPI", "chunk", "yield", "socket", "reply", "model", "async", "bytes"]
# Prompts that catch the usual mistakes: lost repeated or leading spaces,
# mangled non-ASCII text, and a newline inside the prompt.
FIXED_PROMPTS = ["  Grüße,   naïve café ☕ 世界! ", "one\ttwo\nthree  four"]


def pick_prompts(rng: random.Random) -> tuple[list[str], str]:
    """Prompts for this run: content prompts, and the prompt timed alone (two spaces in it)."""
    words = rng.sample(WORDS, TIMING_TOKENS)
    timed = " ".join(words[:2]) + "  " + " ".join(words[2:]) + "!"
    return [*FIXED_PROMPTS, " ".join(rng.sample(WORDS, 4)) + " ✨"], timed


def stream_timeout(delay: float, tokens: int) -> float:
    """Three times a stream's length and a margin: enough for a slow app, not for one that never ends."""
    return delay * tokens * 3 + 5


async def probe_chat(base_url: str, rng: random.Random) -> ChatRecording:
    content_prompts, timed_prompt = pick_prompts(rng)
    delay = rng.choice(TIMING_DELAYS)
    timeout = stream_timeout(max(delay, CONCURRENT_DELAY), TIMING_TOKENS)
    async with local_client(base_url, timeout) as client:
        content = []
        for prompt in content_prompts:
            exchange = await record_exchange(
                client, "/chat-stream", params={"prompt": prompt, "delay": CONTENT_DELAY}, timeout=10
            )
            content.append((prompt, exchange))

        solo = await record_exchange(
            client, "/chat-stream", params={"prompt": timed_prompt, "delay": str(delay)}, timeout=timeout
        )

        idle = await probe_latencies(client, count=3, window=0.03, timeout=5)
        concurrent_prompt = " ".join(rng.sample(WORDS, CONCURRENT_TOKENS))
        streams = [
            record_exchange(
                client,
                "/chat-stream",
                params={"prompt": concurrent_prompt, "delay": str(CONCURRENT_DELAY)},
                timeout=timeout,
            )
            for _ in range(CONCURRENT_STREAMS)
        ]
        # Probe while the streams run: they last (tokens - 1) * delay seconds.
        window = (CONCURRENT_TOKENS - 1) * CONCURRENT_DELAY
        busy_task = asyncio.ensure_future(probe_latencies(client, count=8, window=window, timeout=timeout))
        concurrent = await asyncio.gather(*streams)
        busy = await busy_task

        validation = []
        for value in REFUSED_DELAYS:
            exchange = await record_exchange(
                client, "/chat-stream", params={"prompt": "x", "delay": value}, timeout=5, stop_after_bytes=1
            )
            validation.append((value, exchange))

    return ChatRecording(
        delay=delay,
        content=content,
        solo_prompt=timed_prompt,
        solo=solo,
        concurrent=list(concurrent),
        idle_latencies=idle,
        busy_latencies=busy,
        validation=validation,
        concurrent_delay=CONCURRENT_DELAY,
        concurrent_prompt=concurrent_prompt,
    )


async def probe_chat_more(base_url: str, rng: random.Random) -> tuple[list[TimedReply], list[tuple[str, Exchange]]]:
    """On a second server, beside probe_chat: the defaults, a second delay, and the range's ends.

    Returns the timed replies (no parameters at all, then a second delay)
    and the replies to the allowed range's ends (a one-token prompt, so
    delay=5 costs no wait).
    """
    second_delay = rng.choice(SECOND_DELAYS)
    second_prompt = " ".join(rng.sample(WORDS, SECOND_TOKENS))
    timeout = stream_timeout(max(second_delay, CHAT_DEFAULT_DELAY), max(SECOND_TOKENS, DEFAULT_TOKENS))
    async with local_client(base_url, timeout) as client:
        default = await record_exchange(client, "/chat-stream", timeout=timeout)
        second = await record_exchange(
            client, "/chat-stream", params={"prompt": second_prompt, "delay": str(second_delay)}, timeout=timeout
        )
        accepted = []
        for value in CHAT_DELAY_LIMITS:
            # Long enough for a one-token reply that is sent whole after its
            # delay: how the app streams is judged elsewhere, here only its status.
            exchange = await record_exchange(
                client,
                "/chat-stream",
                params={"prompt": "x", "delay": value},
                timeout=stream_timeout(float(value), 1),
                stop_after_bytes=1,
            )
            accepted.append((value, exchange))
    paced = [
        TimedReply(CHAT_DEFAULT_PROMPT, None, default, prompt_sent=False),
        TimedReply(second_prompt, second_delay, second),
    ]
    return paced, accepted


async def probe(ctx: ProbeContext, earlier: None) -> ChatRecording:
    """The whole exercise: the timed streams on its server, the defaults and range ends on the second beside it."""
    recording, (paced, accepted) = await asyncio.gather(
        probe_chat(ctx.main.base_url, ctx.rng()),
        probe_chat_more(ctx.server("more").base_url, ctx.rng("more")),
    )
    return dataclasses.replace(recording, paced=paced, accepted=accepted)


def floor() -> Floor:
    """The waits: two servers at once, the longer counts, at the largest delay a run can draw."""
    waits = max(
        (TIMING_TOKENS - 1) * max(TIMING_DELAYS) + (CONCURRENT_TOKENS - 1) * CONCURRENT_DELAY,
        (DEFAULT_TOKENS - 1) * CHAT_DEFAULT_DELAY + (SECOND_TOKENS - 1) * max(SECOND_DELAYS),
    )
    return Floor(timing=waits, alone=waits)
