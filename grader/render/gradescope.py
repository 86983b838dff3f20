"""Gradescope's autograder results.json, from a GradeResult.

The format: a top-level ``score`` and a list of ``tests``, each with name,
score, max_score, status ("passed" or "failed"), output and visibility
("visible", "hidden", "after_due_date" or "after_published").
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import GradeResult

HIDDEN_VISIBILITY = "after_published"


def test_output(check) -> str:
    parts = [f"Not counted: {check.why_not_counted}."] if not check.counted else []
    parts += [check.message] if check.message else []
    if check.status == "failed" and check.hint:
        parts.append(f"Hint: {check.hint}")
    if check.status == "failed" and check.reproduce:
        parts.append(f"Try it: {check.reproduce}")
    return "\n\n".join(parts)


def gradescope_results(result: GradeResult) -> dict[str, Any]:
    tests = []
    for check in result.checks:
        if not check.counted:
            max_score = 0.0  # not counted: worth nothing either way
        else:
            max_score = 0.0 if check.bonus else check.max_score
        tests.append({
            "name": f"{check.title} [{check.id}]",
            "number": check.id,
            "score": check.score if check.counted else 0.0,
            "max_score": max_score,
            "status": "passed" if check.status == "passed" else "failed",
            "output": test_output(check),
            "visibility": HIDDEN_VISIBILITY if check.hidden else "visible",
        })  # fmt: skip
    return {
        "score": result.score,
        "output": f"streamgrade {result.grader_version}: {result.score:g} of {result.max_score:g} points"
        + (" (extra credit included)" if result.score > result.max_score else ""),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def render_gradescope(result: GradeResult) -> str:
    return json.dumps(gradescope_results(result), indent=2, ensure_ascii=False) + "\n"
