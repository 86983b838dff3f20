"""The events exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.excerpts import Transcript
from grader.exercises.events.evidence import BrowserSeen, EventsEvidence, FramingProblem
from grader.render.charts import Timeline, timeline


@dataclass(frozen=True, kw_only=True)
class EventsFigures:
    timeline: Timeline | None
    transcript: Transcript | None  # the learner's stream, byte for byte
    problem: FramingProblem | None
    browsers: list[tuple[str, BrowserSeen]] | None  # what a browser's EventSource received, per app it ran for


def figures(evidence: EventsEvidence) -> EventsFigures:
    sides = [(label, side) for label, side in (("your app", evidence.learner), ("reference", evidence.reference))]
    rows = [
        (label, side.arrivals, [f"event {n}" for n in range(1, len(side.arrivals) + 1)])
        for label, side in sides
        if side
    ]
    learner = evidence.learner
    return EventsFigures(
        timeline=timeline(rows, [index * evidence.interval for index in range(evidence.count)], "event"),
        transcript=learner.transcript if learner else None,
        problem=learner.problem if learner else None,
        browsers=[(label, side.browser) for label, side in sides if side and side.browser] or None,
    )
