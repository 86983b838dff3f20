"""What bench/run.py's timing precision measures of exercise 3: the stream timed alone, event by event."""

from __future__ import annotations

import random

from grader import sse
from grader.exercises import TimedStream
from grader.exercises.events.probe import probe_events


async def timed(base_url: str, rng: random.Random) -> list[TimedStream]:
    """The solo stream events.pacing judges, recorded as a grading records it."""
    recording = await probe_events(base_url, rng)
    return [TimedStream(recording.solo, [event.end for event in sse.parse(recording.solo.body).events])]
