"""Capped excerpts of what an app sent, for reports: small, typed, the same for every exercise.

Each is a frozen dataclass whose fields dump to the JSON results.json holds
(tuples as arrays) and are read back by pydantic from the type hints, so a
renamed field fails where it is built, where it is read back and where a
template reads it. Everything here that came from the learner's app is
untrusted text; renderers escape it, this module only bounds its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader import sse
from grader.recording import Exchange, MemoryTrace

TEXT_CAP = 300  # characters of one token or one transcript line shown
TRANSCRIPT_LINES = 80
TRANSCRIPT_BYTES = 16 * 1024
LOG_CAP = 32 * 1024
MEMORY_POINTS = 120
ARRIVALS_CAP = 200


def capped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters not shown]"


# What arrived when: seconds after the request was sent, and the text of what came (capped).
Arrival = tuple[float, str]


@dataclass(frozen=True, kw_only=True)
class MemoryCurve:
    """A download's resident memory, thinned to at most MEMORY_POINTS points of (seconds, growth in bytes)."""

    growth: int
    before: int
    peak: int
    reset_ok: bool
    points: list[tuple[float, int]]


@dataclass(frozen=True, kw_only=True)
class TranscriptLine:
    offset: int  # where the line starts in the body, in bytes
    text: str
    ending: str  # its line ending named: "\\n", "\\r\\n", "\\r", or "" for a last line without one
    problem: bool  # the first framing problem is on this line


@dataclass(frozen=True, kw_only=True)
class Transcript:
    lines: list[TranscriptLine]
    total_bytes: int
    shown_bytes: int


class LearnerAnswered:
    """An exercise's evidence whose ``learner`` side keeps the status it got: its ``answered``."""

    @property
    def answered(self) -> int | None:
        learner = getattr(self, "learner", None)
        return learner.status if learner is not None else None


def arrivals(exchange: Exchange) -> list[Arrival]:
    return [
        (round(chunk.at, 4), capped(chunk.data.decode("utf-8", "replace"), TEXT_CAP))
        for chunk in exchange.chunks[:ARRIVALS_CAP]
    ]


def memory_curve(trace: MemoryTrace | None) -> MemoryCurve | None:
    if trace is None:
        return None
    step = max(1, len(trace.samples) // MEMORY_POINTS)
    return MemoryCurve(
        growth=trace.growth,
        before=trace.before,
        peak=trace.peak,
        reset_ok=trace.reset_ok,
        points=[(round(at, 3), rss - trace.before) for at, rss in trace.samples[::step]],
    )


def transcript(body: bytes, problem_offset: int | None) -> Transcript:
    """The first lines of an event stream, each with its line ending named."""
    shown = body[:TRANSCRIPT_BYTES]
    lines: list[TranscriptLine] = []
    for offset, raw, terminated in sse.iter_lines(shown, 0):
        end = offset + len(raw)
        ending = ""
        if terminated:
            ending = (
                "\\r\\n" if shown[end : end + 2] == b"\r\n" else ("\\n" if shown[end : end + 1] == b"\n" else "\\r")
            )
        lines.append(
            TranscriptLine(
                offset=offset,
                text=capped(raw.decode("utf-8", "replace"), TEXT_CAP),
                ending=ending,
                problem=problem_offset is not None and offset == problem_offset,
            )
        )
        if len(lines) >= TRANSCRIPT_LINES:
            break
    return Transcript(lines=lines, total_bytes=len(body), shown_bytes=sum(len(line.text) for line in lines))
