"""The app starts: every other check depends on this one."""

from __future__ import annotations

from grader.checkapi import CheckFailed, check

LOG_LINES_SHOWN = 15


@check(
    "app.starts",
    points=0,
    depends=(),
    hint=(
        "Start it yourself and read the first error it prints. Is the FastAPI object named `app`? "
        "Does the file import without errors (a typo, a missing package, code that waits at import time)?"
    ),
    reproduce="uvicorn starter.app:app --port 8000",
)
def test_app_starts(app):
    """The app imports and answers HTTP requests"""
    if app.start.ok:
        return
    message = f"The server could not be started. {app.start.message}"
    shown = learner_traceback(app.start.log) or app.start.log.splitlines()[-LOG_LINES_SHOWN:]
    if shown:
        message += "\nWhat it printed:\n" + "\n".join("  " + line for line in shown)
    raise CheckFailed(message, evidence={"log": app.start.log, "seconds": round(app.start.seconds, 3)})



# Frames of Python's import machinery and of installed packages say nothing
# about the learner's mistake; the frames in their own file do.
MACHINERY = ("<frozen ", "site-packages", "/lib/python3", "grader/launch/_serve.py")


def learner_traceback(log: str) -> list[str]:
    """The last traceback in ``log`` without the import machinery's frames."""
    lines = log.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return []
    kept, skipping = [lines[starts[-1]]], False
    for line in lines[starts[-1] + 1 :]:
        if line.startswith("  File "):
            skipping = any(marker in line for marker in MACHINERY)
        elif not line.startswith("    "):
            skipping = False  # the exception line itself, or what follows
        if not skipping:
            kept.append(line)
    return kept[-LOG_LINES_SHOWN:]
