"""The chat exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.exercises.chat.evidence import ChatEvidence, TokenSide
from grader.render.charts import Timeline, timeline
from grader.timing import median


@dataclass(frozen=True, kw_only=True)
class LoopRow:
    """How fast one app's server answered a small request: idle, and while several streams ran."""

    name: str
    idle: float
    median: float
    slowest: float


@dataclass(frozen=True, kw_only=True)
class TokenFigures:
    timeline: Timeline | None
    probes: list[LoopRow]


def token_figures(delay: float, learner: TokenSide | None, reference: TokenSide | None) -> TokenFigures:
    """The tokens' timeline and the loop's table: exercise 1's, and exercise 5's (the same kind of evidence)."""
    sides = [(label, side) for label, side in (("your app", learner), ("reference", reference)) if side]
    rows = [(label, [at for at, _ in side.arrivals], [text for _, text in side.arrivals]) for label, side in sides]
    tokens = len(reference.arrivals) if reference else 0
    return TokenFigures(
        timeline=timeline(rows, [index * delay for index in range(tokens)], "token"),
        probes=[
            LoopRow(
                name=label,
                idle=median(side.idle_latencies),
                median=median(side.busy_latencies),
                slowest=max(side.busy_latencies, default=0.0),
            )
            for label, side in sides
        ],
    )


def figures(evidence: ChatEvidence) -> TokenFigures:
    return token_figures(evidence.delay, evidence.learner, evidence.reference)
