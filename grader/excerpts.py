"""Capped excerpts of what an app sent, for reports: small, JSON-ready, the same for every exercise.

Everything here that came from the learner's app is untrusted text;
renderers escape it, this module only bounds its size.
"""

from __future__ import annotations

from typing import Any

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


def arrivals(exchange: Exchange) -> list[list[Any]]:
    return [
        [round(chunk.at, 4), capped(chunk.data.decode("utf-8", "replace"), TEXT_CAP)]
        for chunk in exchange.chunks[:ARRIVALS_CAP]
    ]


def memory_curve(trace: MemoryTrace | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    step = max(1, len(trace.samples) // MEMORY_POINTS)
    points = [[round(at, 3), rss - trace.before] for at, rss in trace.samples[::step]]
    return {
        "growth": trace.growth,
        "before": trace.before,
        "peak": trace.peak,
        "reset_ok": trace.reset_ok,
        "points": points,
    }


def transcript(body: bytes, problem_offset: int | None) -> dict[str, Any]:
    """The first lines of an event stream, each with its line ending named."""
    shown = body[:TRANSCRIPT_BYTES]
    lines: list[dict[str, Any]] = []
    for offset, raw, terminated in sse.iter_lines(shown, 0):
        end = offset + len(raw)
        ending = ""
        if terminated:
            ending = (
                "\\r\\n" if shown[end : end + 2] == b"\r\n" else ("\\n" if shown[end : end + 1] == b"\n" else "\\r")
            )
        lines.append(
            {
                "offset": offset,
                "text": capped(raw.decode("utf-8", "replace"), TEXT_CAP),
                "ending": ending,
                "problem": problem_offset is not None and offset == problem_offset,
            }
        )
        if len(lines) >= TRANSCRIPT_LINES:
            break
    return {"lines": lines, "total_bytes": len(body), "shown_bytes": sum(len(line["text"]) for line in lines)}
