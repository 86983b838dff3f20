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
import textwrap
from dataclasses import dataclass
from pathlib import Path

from grader.files import write_atomically
from grader.render.code import terminal_text
from grader.render.json import render_json
from grader.results import GradeResult

WIDTH = 88  # as the terminal report
LAST_RESULT = "last-result.json"  # in the cache folder: the hints of the learner's last grade


@dataclass(frozen=True)
class Step:
    look_at: str  # where to look, not the answer
    page_hints: tuple[int, ...] = ()  # the numbers of the exercise page's hints that fit


# A nudge per check; the page hint numbers follow the pages' "## Hints" lists.
STEPS: dict[str, Step] = {
    "app.starts": Step("the first error your app prints when you start it yourself"),
    "chat.status": Step("what your route returns: a StreamingResponse over a generator", (1,)),
    "chat.media-type": Step("the media type your StreamingResponse declares", (1,)),
    "chat.content": Step("how you split the prompt into tokens: every space must survive"),
    "chat.incremental": Step("when each token leaves: yield it as soon as it is ready", (1, 6)),
    "chat.first-token": Step("where your generator waits: before the first token, or between tokens", (5,)),
    "chat.pacing": Step("how long your generator waits between two tokens", (2, 3)),
    "chat.nonblocking": Step("how your generator waits: does the whole server wait with it?", (2, 3)),
    "chat.validation": Step("the declaration of the delay parameter", (4,)),
    "bigfile.status": Step("what your route returns for GET /bigfile", (1,)),
    "bigfile.headers": Step("the headers your response sets: the report names the one that is wrong", (1,)),
    "bigfile.integrity": Step("how the file is opened and read: every byte, in order, to the end", (2,)),
    "bigfile.memory": Step("how much of the file your code holds at once", (2, 3, 4)),
    "bigfile.backpressure": Step("who decides when the next piece is read: the client, or a loop of yours", (5,)),
    "bigfile.throughput": Step("the size of the pieces you yield", (2,)),
    "bigfile.missing": Step("what happens before the first byte when the file is not there", (6,)),
    "bigfile.default-path": Step("the path you use when BIGFILE_PATH is not set, and what it is relative to", (6,)),
    "bigfile.range": Step("the Range header: which bytes it asks for", (7,)),
    "bigfile.head": Step("the methods your route accepts"),
    "events.headers": Step("the media type of your response", (1,)),
    "events.cache": Step("the headers your response sets"),
    "events.framing": Step("the newlines after each event", (1,)),
    "events.payload": Step("how the data line is made", (2,)),
    "events.count": Step("when your generator stops, and where seq starts"),
    "events.incremental": Step("when each event leaves: yield it as it is made", (1,)),
    "events.pacing": Step("when your generator waits: not before the first event", (5,)),
    "events.live-timestamps": Step("where the timestamp is taken", (3,)),
    "events.nonblocking": Step("how your generator waits: does the whole server wait with it?", (5,)),
    "events.resume": Step("the Last-Event-ID header: do you read it?", (4,)),
    "events.browser": Step("the id: line of each event, and the Last-Event-ID header the browser sends back", (1, 4)),
    "events.unexpected-id": Step("what your code does with a Last-Event-ID that is not a number", (4,)),
    "events.validation": Step("the declarations of interval and count"),
    "events.disconnect": Step("what your generator does when the client leaves", (5,)),
}
PAGES = {
    "chat": "exercises/01-chat-stream.md",
    "bigfile": "exercises/02-bigfile.md",
    "events": "exercises/03-events.md",
}


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
    from grader.probes.run import cache_dir  # here: the renderers import this module, and need no probes

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
    # pytest and the probes: only here
    from grader.checks import test_app
    from grader.exercises.bigfile import test_bigfile
    from grader.exercises.chat import test_chat
    from grader.exercises.events import test_events

    found = {}
    for module in (test_app, test_chat, test_bigfile, test_events):
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
        print(textwrap.fill(terminal_text(hint), WIDTH), file=out)
    step = STEPS.get(check_id)
    page = PAGES.get(check_id.split(".", 1)[0])
    if step and step.page_hints and page:
        quoted = page_hints(page_text(page), step.page_hints)
        if quoted:
            print(f"\nFrom {page}:", file=out)
            for paragraph in quoted:
                print(
                    textwrap.fill(terminal_text(paragraph), WIDTH, initial_indent="  ", subsequent_indent="     "),
                    file=out,
                )
    return 0
