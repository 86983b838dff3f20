"""The events exercise's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from typing import Any

from grader.render.charts import timeline

SIDES = (("your app", "learner"), ("reference", "reference"))


def figures(evidence: dict[str, Any]) -> dict[str, Any]:
    interval = evidence["interval"]
    sides = [(label, evidence[key]) for label, key in SIDES if evidence.get(key)]
    rows = [
        (label, side["arrivals"], [f"event {n}" for n in range(1, len(side["arrivals"]) + 1)]) for label, side in sides
    ]
    # What a browser's EventSource received, for each app a browser ran for.
    seen = [(label, (evidence.get(key) or {}).get("browser")) for label, key in SIDES]
    return {
        "timeline": timeline(rows, [index * interval for index in range(evidence["count"])], "event"),
        "transcript": (evidence.get("learner") or {}).get("transcript"),
        "problem": (evidence.get("learner") or {}).get("problem"),
        "browsers": [(label, browser) for label, browser in seen if browser] or None,
    }
