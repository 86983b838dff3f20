"""The download exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.exercises.bigfile.evidence import BigfileEvidence, DownloadSide
from grader.render.charts import MemoryChart, memory_chart


@dataclass(frozen=True, kw_only=True)
class BigfileFigures:
    memory: MemoryChart | None
    learner: DownloadSide | None
    reference: DownloadSide | None


def figures(evidence: BigfileEvidence) -> BigfileFigures:
    sides = (("your app", evidence.learner), ("reference", evidence.reference))
    return BigfileFigures(
        memory=memory_chart([(name, side.memory) for name, side in sides if side], evidence.bound),
        learner=evidence.learner,
        reference=evidence.reference,
    )
