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
    reproduce="uvicorn app:app --port 8000",
)
def test_app_starts(app):
    """The app imports and answers HTTP requests"""
    if app.start.ok:
        return
    tail = "\n".join(app.start.log.splitlines()[-LOG_LINES_SHOWN:])
    message = f"The server could not be started: {app.start.message}"
    if tail:
        message += f"\nLast lines it printed:\n{tail}"
    raise CheckFailed(message, evidence={"log": app.start.log, "seconds": round(app.start.seconds, 3)})

