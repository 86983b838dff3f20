"""The download exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from typing import Any

from grader.render.charts import memory_chart


def figures(evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "memory": memory_chart(evidence.get("learner"), evidence.get("reference"), evidence["bound"]),
        "learner": evidence.get("learner"),
        "reference": evidence.get("reference"),
    }
