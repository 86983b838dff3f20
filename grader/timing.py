"""Pure helpers that turn chunk arrival times into the quantities checks judge."""

from __future__ import annotations

import itertools
import statistics

from grader.recording import Chunk


def bursts(chunks: list[Chunk], quiet: float) -> list[Chunk]:
    """Merge chunks that arrive less than ``quiet`` seconds apart.

    One token may arrive in several reads, and two reads may carry one
    token: what the learner sent as one piece shows as one burst.
    """
    starts: list[float] = []
    parts: list[list[bytes]] = []  # joined once at the end: concatenating as we go is quadratic
    for chunk in chunks:
        if starts and chunk.at - starts[-1] < quiet:
            parts[-1].append(chunk.data)
        else:
            starts.append(chunk.at)
            parts.append([chunk.data])
    return [Chunk(at, b"".join(pieces)) for at, pieces in zip(starts, parts, strict=True)]


def clusters(times: list[float], quiet: float) -> list[float]:
    """The first time of each group of times less than ``quiet`` apart."""
    starts: list[float] = []
    previous = None
    for at in times:
        if previous is None or at - previous >= quiet:
            starts.append(at)
        previous = at
    return starts


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def arrival_at_offsets(chunks: list[Chunk], offsets: list[int]) -> list[float]:
    """When the byte just before each (ascending) offset had arrived."""
    times, position, index = [], 0, 0
    for offset in offsets:
        while index < len(chunks) and position < offset:
            position += len(chunks[index].data)
            index += 1
        times.append(chunks[index - 1].at if index else 0.0)
    return times
