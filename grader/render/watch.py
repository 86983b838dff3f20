"""Watch mode's screen: the exercise being worked on, its first failure in full, and a progress line.

A pure function of a ``WatchScreen``; ``grader.watch`` clears the terminal
and prints it after every grade. One failure at a time, like a test runner
in watch mode: the checks after it often fail because of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.render.terminal import (
    ASCII_MARKS,
    EXERCISE_PAGES,
    EXERCISE_TITLES,
    MARKS,
    all_done_lines,
    following,
    full_marks_lines,
    points,
    printable,
    render_check,
    unwritten_lines,
)
from grader.results import CheckResult, GradeResult

BAR_WIDTH = 10  # cells per exercise
LINE_WIDTH = 80  # the progress wraps between exercises to fit a terminal of this width


@dataclass
class WatchScreen:
    result: GradeResult
    exercise: str  # the exercise being worked on
    # The latest subtotal known for each exercise (score without extra credit, maximum),
    # from this grade or an earlier one.
    progress: dict[str, tuple[float, float]] = field(default_factory=dict)
    watching: str = "starter"  # the folder whose saves start a grade
    full_hints: bool = False  # the whole hint under the failure, not only where to look


def bar(score: float, maximum: float, unicode: bool) -> str:
    filled = round(BAR_WIDTH * score / maximum) if maximum else 0
    full, empty = ("█", "░") if unicode else ("#", "-")
    return full * filled + empty * (BAR_WIDTH - filled)


def progress_lines(
    progress: dict[str, tuple[float, float]],
    exercises: list[str],
    unicode: bool,
    graded_now: tuple[str, ...] | list[str] = (),
) -> str:
    """Every exercise's progress, wrapped between exercises to fit LINE_WIDTH columns.

    A score from before the latest save says so (the code has changed since).
    """
    parts, total, total_max = [], 0.0, 0.0
    for name in exercises:
        if name not in progress:
            parts.append(f"{name} not graded yet")
            continue
        score, maximum = progress[name]
        total, total_max = total + score, total_max + maximum
        earlier = "" if name in graded_now else " (earlier)"
        parts.append(f"{name} {bar(score, maximum, unicode)} {points(score)}/{points(maximum)}{earlier}")
    parts.append(f" total {points(total)}/{points(total_max)}")
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 2 + len(part) <= LINE_WIDTH:
            lines[-1] += "  " + part
        else:
            lines.append(part.lstrip())
    return "\n".join(lines)


def full_marks(progress: dict[str, tuple[float, float]], name: str) -> bool:
    score, maximum = progress.get(name, (0.0, 1.0))
    return maximum > 0 and score >= maximum


def first_failure(checks: list[CheckResult]) -> CheckResult | None:
    return next((check for check in checks if check.status == "failed"), None) or next(
        (check for check in checks if check.status == "error"), None
    )


def render_watch(screen: WatchScreen, exercises: list[str], *, unicode: bool = True) -> str:
    result, marks = screen.result, MARKS if unicode else ASCII_MARKS
    lines = [f"streamgrade watch: {result.target}", ""]
    starts = [check for check in result.checks if check.exercise == "app"]
    shown = [check for check in result.checks if check.exercise == screen.exercise]
    score, maximum = screen.progress.get(screen.exercise, (0.0, 0.0))
    lines.append(f"{EXERCISE_TITLES.get(screen.exercise, screen.exercise)}  {points(score)}/{points(maximum)}")
    failure = first_failure([*starts, *shown])
    if failure is not None and failure.exercise != "app" and screen.exercise in result.unwritten:
        lines += unwritten_lines(screen.exercise, len(shown), marks)
        lines.append(f"  Start with {EXERCISE_PAGES.get(screen.exercise, screen.exercise)}; save to grade it again.")
    elif failure is not None:
        lines += render_check(failure, marks, full_hint=screen.full_hints)
        rest = [check for check in shown if check is not failure and check.status in ("failed", "skipped", "error")]
        if rest:
            lines.append(
                f"  ({len(rest)} more after this: {', '.join(check.id for check in rest)}; "
                "some may pass once this one does)"
            )
    elif full_marks(screen.progress, screen.exercise):
        left = [name for name in exercises if not full_marks(screen.progress, name)]
        if left:
            said = full_marks_lines(screen.exercise, left[0])
            lines += [f"  {marks['passed']} {said[0]}", "  Save a change to grade it."]
        elif len(exercises) < len(EXERCISE_PAGES):  # only some exercises watched (--exercise)
            lines.append(f"  {marks['passed']} {full_marks_lines(screen.exercise, following(screen.exercise))[0]}")
        else:
            done = all_done_lines(result.extra_credit, result.extra_credit_max, result.reference)
            lines += ["  " + line for line in done]
    elif screen.exercise not in result.exercises:
        lines.append("  Not graded yet: save a change to grade it.")
    else:
        lines.append("  No check could judge this exercise in this run (see the notes); save again to retry.")
    lines += ["", progress_lines(screen.progress, exercises, unicode, result.exercises)]
    if any(name in screen.progress and name not in result.exercises for name in exercises):
        lines.append("(earlier): graded before your latest save; full marks on every exercise grade them all again.")
    graded = ", ".join(result.exercises)
    lines.append(f"Graded {graded} in {result.duration:g} s. Watching {screen.watching}/ for saves; Ctrl-C to stop.")
    return printable("\n".join(lines)) + "\n"  # a message quotes what the app sent: it stays text
