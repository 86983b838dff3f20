"""Hints step by step: a short "what to look at" first, the full hint on request.

The exercise pages ask learners to read their hints one at a time; a report
that prints the answer at the first failure skips every step. So a failure
in the terminal shows where to look and which of the page's numbered hints
fit, and ``streamgrade hint CHECK_ID`` prints the full hint: the one the
learner's last grade gave for that failure (it names what was wrong in that
run), else the check's own.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import sys
from pathlib import Path

from grader.exercises import Step, check_modules, registry
from grader.files import cache_dir, write_atomically
from grader.render.code import terminal_lines, terminal_text
from grader.render.json import render_json
from grader.results import GradeResult

WIDTH = 88  # as the terminal report
LAST_RESULT = "last-result.json"  # in the cache folder: the hints of the learner's last grade


# A nudge per check (each exercise's in its record); the page hint numbers follow the pages' "## Hints" lists.
STEPS: dict[str, Step] = {
    "app.starts": Step("the first error your app prints when you start it yourself"),
    **{check: step for exercise in registry() for check, step in exercise.steps.items()},
}
PAGES = {exercise.name: exercise.page for exercise in registry()}


def look_at_text(check_id: str) -> str:
    """The nudge for a failed check, with the page's hints that fit; "" when there is none."""
    step = STEPS.get(check_id)
    if step is None:
        return ""
    text = f"Look at {step.look_at}."
    page = PAGES.get(check_id.split(".", 1)[0])
    if step.page_hints and page:
        numbers = ", ".join(str(number) for number in step.page_hints)
        text += f" Hint{'s' if len(step.page_hints) > 1 else ''} {numbers} on {page}."
    return text


def page_hints(page_text: str, numbers: tuple[int, ...]) -> list[str]:
    """The page's numbered hints ``numbers``, from its "## Hints" section, each as one paragraph."""
    section = page_text.partition("## Hints")[2].split("\n## ", 1)[0]
    found: dict[int, str] = {}
    for match in re.finditer(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", section, re.MULTILINE | re.DOTALL):
        found[int(match.group(1))] = " ".join(match.group(2).split())
    return [f"{number}. {found[number]}" for number in numbers if number in found]


def last_result_path() -> Path:
    return cache_dir() / LAST_RESULT


def save_last(result: GradeResult) -> None:
    """Keep the result for `streamgrade hint`; a cache that can't be written costs only that."""
    with contextlib.suppress(OSError):
        write_atomically(last_result_path(), render_json(result))


def last_failure(saved: Path, check_id: str) -> tuple[str, GradeResult] | None:
    """The hint the last grade gave when ``check_id`` failed in it, with that result."""
    try:
        result = GradeResult.from_dict(json.loads(saved.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    check = next((check for check in result.checks if check.id == check_id), None)
    if check is None or check.status != "failed" or not check.hint:
        return None
    return check.hint, result


def static_hints() -> dict[str, tuple[str, str]]:
    """Each check's title and its own hint (the one its decorator declares), by id."""
    import importlib  # the check modules import pytest: only here

    found = {}
    for module in map(importlib.import_module, check_modules()):
        for function in vars(module).values():
            marks = {mark.name: mark for mark in getattr(function, "pytestmark", [])}
            if "check" in marks:
                title = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
                found[marks["check"].args[0]] = (title, marks["hint"].args[0] if "hint" in marks else "")
    return found


def page_text(page: str) -> str:
    """The exercise page: the learner's copy in the kit's folder, else the one installed with the grader."""
    from grader import kit

    local = Path(page)
    try:
        if local.is_file():
            return local.read_text(encoding="utf-8")
        return (kit.folder("exercises") / Path(page).name).read_text(encoding="utf-8")
    except OSError:
        return ""


def show_hint(check_id: str, out=sys.stdout) -> int:
    """``streamgrade hint CHECK_ID``: the full hint, the last grade's when it failed there, and the page's hints."""
    checks = static_hints()
    if check_id not in checks:
        close = difflib.get_close_matches(check_id, list(checks), n=1)
        print(
            f"streamgrade: there is no check {check_id!r}" + (f"; did you mean {close[0]}?" if close else "."),
            file=sys.stderr,
        )
        print("The checks: " + ", ".join(checks), file=sys.stderr)
        return 2
    title, hint = checks[check_id]
    print(f"{check_id}: {terminal_text(title)}", file=out)
    nudge = terminal_text(look_at_text(check_id))
    if nudge:
        print(nudge, file=out)
    last = last_failure(last_result_path(), check_id)
    if last is not None:
        hint, result = last
        print(f"\nThe hint for what your last grade saw ({result.target}, {result.started_at}):", file=out)
    elif hint:
        print("\nThe hint:", file=out)
    if hint:
        print("\n".join(terminal_lines(hint, WIDTH)), file=out)
    step = STEPS.get(check_id)
    page = PAGES.get(check_id.split(".", 1)[0])
    if step and step.page_hints and page:
        quoted = page_hints(page_text(page), step.page_hints)
        if quoted:
            print(f"\nFrom {page}:", file=out)
            for paragraph in quoted:
                print(
                    "\n".join(terminal_lines(paragraph, WIDTH, "  ", "     ")),
                    file=out,
                )
    return 0
