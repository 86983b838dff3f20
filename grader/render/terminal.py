"""The results as terminal text: grouped by exercise, failures explained."""

from __future__ import annotations

import textwrap

from grader.results import CheckResult, GradeResult

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-", "inconclusive": "?"}
ASCII_MARKS = {"passed": "+", "failed": "x", "error": "!", "skipped": "-", "inconclusive": "?"}
EXERCISE_TITLES = {
    "app": "Your app",
    "chat": "Exercise 1: /chat-stream (exercises/01-chat-stream.md)",
    "bigfile": "Exercise 2: /bigfile (exercises/02-bigfile.md)",
    "events": "Exercise 3: /events (exercises/03-events.md)",
}
WIDTH = 88


def points(value: float) -> str:
    return f"{value:g}"


def render_check(check: CheckResult, marks: dict[str, str]) -> list[str]:
    if check.counted:
        score = f"{points(check.score)}/{points(check.max_score)}" + (" bonus" if check.bonus else "")
    else:
        score = "not counted"
    lines = [f"  {marks[check.status]} {check.title}  [{check.id}, {score}, {check.status}]"]
    indent = " " * 6
    if check.status in ("failed", "error", "inconclusive", "skipped") and check.message:
        for paragraph in check.message.splitlines():
            if paragraph.startswith("  "):  # preformatted: a log or a traceback
                lines.append(indent + paragraph)
                continue
            lines += textwrap.wrap(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]
    if check.status == "failed":
        if check.hint:
            lines += textwrap.wrap("Hint: " + check.hint, WIDTH, initial_indent=indent, subsequent_indent=indent)
        if check.reproduce:
            lines.append(f"{indent}Try it: {check.reproduce}")
    if check.status == "error" and check.traceback:
        lines += [indent + line for line in check.traceback.strip().splitlines()[-3:]]
    return lines


def render_terminal(result: GradeResult, *, unicode: bool = True) -> str:
    marks = MARKS if unicode else ASCII_MARKS
    lines = [f"streamgrade {result.grader_version}: grading {result.target}", ""]
    subtotals = result.subtotals()
    for exercise in ["app", *result.exercises]:
        checks = [check for check in result.checks if check.exercise == exercise]
        if not checks:
            continue
        title = EXERCISE_TITLES.get(exercise, exercise)
        if exercise in subtotals and exercise != "app":
            score, maximum = subtotals[exercise]
            bonus = sum(check.score for check in checks if check.bonus and check.counted)
            title += f"  {points(score - bonus)}/{points(maximum)}" + (f" +{points(bonus)} extra" if bonus else "")
        lines.append(title)
        for check in checks:
            lines += render_check(check, marks)
        lines.append("")
    lines += [f"Note: {note}" for note in result.notes]
    protections = result.protections
    if protections and protections.get("level", "off") != "off":  # a learner's own run: nothing to say
        lines.append(f"Sandbox ({protections['level']}):")
        for text in protections.get("in_force", []):
            lines += textwrap.wrap(text, WIDTH, initial_indent=f"  {marks['passed']} ", subsequent_indent="    ")
        for text in protections.get("not_in_force", []):
            lines += textwrap.wrap("not in force: " + text, WIDTH, initial_indent=f"  {marks['failed']} ",
                                   subsequent_indent="    ")  # fmt: skip
    bonus_max = sum(check.max_score for check in result.checks if check.bonus and check.counted)
    bonus = sum(check.score for check in result.checks if check.bonus and check.counted)
    score = f"Score: {points(result.score - bonus)}/{points(result.max_score)}"
    if bonus_max:
        score += f", extra credit {points(bonus)}/{points(bonus_max)}"
    lines.append(f"{score}  ({result.duration:g} s)")
    return "\n".join(lines) + "\n"
