"""The app starts: every other check depends on this one."""

from __future__ import annotations

from grader.checkapi import CheckFailed, check
from grader.tracebacks import learner_traceback

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
