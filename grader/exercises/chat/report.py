"""The chat exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from typing import Any

from grader.render.charts import timeline
from grader.timing import median

SIDES = (("your app", "learner"), ("reference", "reference"))


def figures(evidence: dict[str, Any]) -> dict[str, Any]:
    delay = evidence["delay"]
    sides = [(label, evidence[key]) for label, key in SIDES if evidence.get(key)]
    rows = [(label, [a[0] for a in side["arrivals"]], [a[1] for a in side["arrivals"]]) for label, side in sides]
    tokens = len(evidence["reference"]["arrivals"]) if evidence.get("reference") else 0
    return {
        "timeline": timeline(rows, [index * delay for index in range(tokens)], "token"),
        "probes": [
            {
                "name": label,
                "idle": median(side["idle_latencies"]),
                "median": median(side["busy_latencies"]),
                "slowest": max(side["busy_latencies"], default=0.0),
            }
            for label, side in sides
        ],
    }
