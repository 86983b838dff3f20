"""Exercise 5's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from typing import Any

from grader.exercises.chat import report as chat_report


def figures(evidence: dict[str, Any]) -> dict[str, Any]:
    """Exercise 1's token timeline and loop table (the same kind of evidence), and the stream's transcript."""
    learner = evidence.get("learner") or {}
    return {
        **chat_report.figures(evidence),
        "transcript": learner.get("transcript"),
        "problem": learner.get("problem"),
        "client": learner.get("client"),
        "done": learner.get("done", True),
    }
