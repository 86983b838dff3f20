"""The results as JSON: the contract other tools (LMS import, CI) read."""

from __future__ import annotations

import json

from grader.results import GradeResult


def render_json(result: GradeResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
