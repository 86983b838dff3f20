"""Gradescope's autograder results.json, from a GradeResult.

The format (gradescope-autograders.readthedocs.io, "Autograder
Specifications"): a top-level ``score``, ``output`` and the formats and
visibilities, and a list of ``tests``, each with name, number, score,
max_score, status ("passed" or "failed"), output, output_format, visibility
("visible", "hidden", "after_due_date" or "after_published") and
extra_data.

Tests come in exercise order (the app's start, then exercises 1, 2, 3), and
are numbered so: Gradescope shows them by number. Outputs are Markdown:
hints as their authors wrote them (`code` in backquotes), messages, which
quote what the learner's app sent, escaped so they stay text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from grader.render.terminal import EXERCISE_TITLES, serve_first
from grader.results import CheckResult, GradeResult

HIDDEN_VISIBILITY = "after_published"
ORDER = tuple(EXERCISE_TITLES)  # app, chat, bigfile, events: tests numbered 0.n, 1.n, 2.n, 3.n
# What Markdown gives a meaning to anywhere in a line: code, emphasis, links
# and images (no "[", no link), HTML, strikethrough, tables.
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>~|])")
# And at a line's start: headings, quotes, lists, setext underlines, numbered lists.
MARKDOWN_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))", re.M)


def markdown_text(text: str) -> str:
    """``text`` as Markdown that shows exactly these characters (messages quote what an app sent)."""
    escaped = MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = MARKDOWN_LINE_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), escaped
    )
    # Line ends stay line ends (two spaces: a hard break), not a paragraph's reflow.
    return escaped.replace("\n", "  \n")


def code_block(text: str) -> str:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}\n{text}\n{fence}"


def test_output(check: CheckResult) -> str:
    parts = [f"Not counted: {check.why_not_counted}."] if not check.counted else []
    parts += [markdown_text(check.message)] if check.message else []
    if check.status == "failed" and check.hint:
        parts.append(f"**Hint:** {check.hint}")  # written as Markdown by the check's author
    if check.status == "failed" and check.reproduce:
        serve = serve_first(check)
        first = f" (start the app first, in the kit's folder: `{serve}`)" if serve else ""
        parts.append(f"**Try it{first}:**\n\n" + code_block(check.reproduce))
    return "\n\n".join(parts)


def in_exercise_order(checks: list[CheckResult]) -> list[tuple[str, CheckResult]]:
    """Each check with its test number, ordered by exercise, then as the grader ran them."""
    ranked = sorted(
        enumerate(checks),
        key=lambda pair: (ORDER.index(pair[1].exercise) if pair[1].exercise in ORDER else len(ORDER), pair[0]),
    )
    numbered: list[tuple[str, CheckResult]] = []
    counters: dict[int, int] = {}
    for _, check in ranked:
        position = ORDER.index(check.exercise) if check.exercise in ORDER else len(ORDER)
        counters[position] = counters.get(position, 0) + 1
        numbered.append((f"{position}.{counters[position]}", check))
    return numbered


def summary(result: GradeResult) -> str:
    """The top-level output: the points of the checks shown now, nothing of the hidden ones."""
    shown = [check for check in result.checks if not check.hidden and check.counted]
    # Extra credit apart: the points are never more than the maximum they are shown against.
    score = round(sum(check.score for check in shown if not check.bonus), 2)
    maximum = round(sum(check.max_score for check in shown if not check.bonus), 2)
    extra = round(sum(check.score for check in shown if check.bonus), 2)
    extra_max = round(sum(check.max_score for check in shown if check.bonus), 2)
    text = f"streamgrade {result.grader_version}: {score:g} of {maximum:g} points on the checks shown"
    text += f", and {extra:g} of {extra_max:g} extra credit." if extra_max else "."
    hidden = sum(check.hidden for check in result.checks)
    if hidden:
        text += f" {hidden} more {'check is' if hidden == 1 else 'checks are'} hidden until grades are published."
    return text


def gradescope_results(result: GradeResult) -> dict[str, Any]:
    tests = []
    for number, check in in_exercise_order(result.checks):
        # Not counted, or a bonus: worth nothing toward the maximum.
        max_score = check.max_score if check.counted and not check.bonus else 0.0
        tests.append(
            {
                "name": f"{check.title} [{check.id}]",
                "number": number,
                "score": check.score if check.counted else 0.0,
                "max_score": max_score,
                "status": "passed" if check.status == "passed" else "failed",
                "output": test_output(check),
                "output_format": "md",
                "visibility": HIDDEN_VISIBILITY if check.hidden else "visible",
                "extra_data": {"check": check.id, "streamgrade_status": check.status},
            }
        )
    return {
        "score": result.total,  # Gradescope adds extra credit to the score itself
        "output": summary(result),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def grader_failure_results(reason: str, details: str = "") -> dict[str, Any]:
    """When the grader itself could not grade: no points either way, and why, for the instructor only."""
    return {
        "score": 0.0,
        "output": "The autograder could not grade this submission. This is not a verdict on your work: "
        "your instructor can see what went wrong and can run it again.",
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "The grader failed (shown to instructors only)",
                "number": "0.0",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": markdown_text(reason) + ("\n\n" + code_block(details) if details else ""),
                "output_format": "md",
                "visibility": "hidden",
                "extra_data": {"grader_error": reason},
            }
        ],
        "extra_data": {"grader_error": reason},
    }


def render_gradescope(result: GradeResult) -> str:
    return json.dumps(gradescope_results(result), indent=2, ensure_ascii=False) + "\n"


def render_grader_failure(reason: str, details: str = "") -> str:
    return json.dumps(grader_failure_results(reason, details), indent=2, ensure_ascii=False) + "\n"
