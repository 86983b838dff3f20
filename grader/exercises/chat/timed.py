"""What bench/run.py's timing precision measures of exercise 1: the stream timed alone, token by token."""

from __future__ import annotations

import random

from grader.contract import token_ends
from grader.exercises import TimedStream
from grader.exercises.chat.probe import probe_chat


async def timed(base_url: str, rng: random.Random) -> list[TimedStream]:
    """The solo stream chat.first-token and chat.pacing judge, recorded as a grading records it."""
    recording = await probe_chat(base_url, rng)
    return [TimedStream(recording.solo, token_ends(recording.solo_prompt))]
