"""The learner's own part of the tracebacks a server printed.

A crash in a route or a generator reaches the server's log as a traceback of
some fifty frames, nearly all uvicorn's, Starlette's and anyio's. The
learner's mistake is in the few frames of their own file: those are kept,
with the exception, and everything else is trimmed away.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from grader.recording import Crash

# Frames of Python's import machinery, the standard library, installed
# packages and the grader's own launcher say nothing about the learner's
# mistake; the frames in their own files do.
MACHINERY = ("<frozen ", "site-packages", "dist-packages", "/lib/python3", "/grader/launch/")
LINES_SHOWN = 15
FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)')
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")  # "NameError: ...", "KeyboardInterrupt"
STARTS = ("Traceback (most recent call last):", "Exception Group Traceback (most recent call last):")
# An exception group's traceback draws a margin of "|" in front of each line
# of the exceptions it holds, and rules of "+-" between them.
GROUP_MARGIN = re.compile(r"^\s*(?:\| ?|\+ (?=Exception Group))")
GROUP_RULE = re.compile(r"^\s*\+[-+]")


def is_machinery(frame_line: str) -> bool:
    return any(marker in frame_line for marker in MACHINERY)


def blocks(log: str) -> list[list[str]]:
    """Each traceback in ``log``: its header, its indented lines and the exception line."""
    found: list[list[str]] = []
    current: list[str] | None = None
    for raw in log.splitlines():
        line = "" if GROUP_RULE.match(raw) else GROUP_MARGIN.sub("", raw, count=1)
        if line.lstrip().startswith(STARTS):
            current = [line.strip()]
            found.append(current)
        elif current is not None:
            if line.startswith(" "):
                current.append(line)
            else:
                if line.strip():
                    current.append(line)  # the exception itself
                current = None
    return found


def trimmed(block: list[str]) -> list[str]:
    """The block with the machinery's frames (and the source lines under them) left out."""
    kept, skipping = [block[0]], False
    for line in block[1:]:
        if line.startswith("  File "):
            skipping = is_machinery(line)
        elif not line.startswith("    "):
            skipping = False  # the exception line, or what follows
        if not skipping:
            kept.append(line)
    return kept


def learner_traceback(log: str) -> list[str]:
    """The last traceback in ``log`` without the machinery's frames (at most LINES_SHOWN lines)."""
    found = blocks(log)
    return trimmed(found[-1])[-LINES_SHOWN:] if found else []


def crashes(log: str) -> list[Crash]:
    """The distinct exceptions in ``log``, each with the last frame of the learner's own code.

    Counted by exception and place: a generator that fails on every request
    is one crash, seen many times.
    """
    seen: dict[tuple[str, str, int], Crash] = {}
    for block in blocks(log):
        exception = block[-1].strip() if EXCEPTION.match(block[-1]) else ""
        if not exception:
            continue  # cut off by the log's cap
        own = [match for line in block if (match := FRAME.match(line)) and not is_machinery(line)]
        file, line = (own[-1]["file"], int(own[-1]["line"])) if own else ("", 0)
        key = (exception, file, line)
        if key in seen:
            seen[key].count += 1
        else:
            seen[key] = Crash(exception, file, line, trimmed(block)[-LINES_SHOWN:])
    return list(seen.values())


def describe(crash: Crash) -> str:
    """ "NameError: name 'time' is not defined (app.py, line 16)", with the learner's traceback below it."""
    where = f" ({PurePath(crash.file).name}, line {crash.line})" if crash.file else " (in code your app called)"
    return f"{crash.exception}{where}\n" + "\n".join("  " + line for line in crash.traceback)
