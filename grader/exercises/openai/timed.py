"""What bench/run.py's timing precision measures of exercise 5: the raw stream timed alone, chunk by chunk."""

from __future__ import annotations

import random

from grader import sse
from grader.exercises import TimedStream
from grader.exercises.openai.probe import probe_openai


async def timed(base_url: str, rng: random.Random) -> list[TimedStream]:
    """The solo stream openai.first-token and openai.pacing judge, recorded as a grading records it."""
    solo = (await probe_openai(base_url, rng)).solo.exchange
    return [TimedStream(solo, [event.end for event in sse.parse(solo.body).events])]
