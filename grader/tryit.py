"""``streamgrade try EXERCISE``: start the app, send the request a check sends, show what arrives.

What ``curl`` shows by hand, with what curl can't show: when each piece
arrived (like the report's timeline), and for the download the server's
memory. The app runs on a free port, the way the grader runs it, and is
stopped at the end (also on Ctrl-C), so nothing needs starting first.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from grader import launch
from grader.exercises import get as exercise_named
from grader.hints import PAGES
from grader.probes.http import IDENTITY
from grader.render.terminal import printable

# A body that has not ended by then is not going to: say so and stop.
GIVE_UP_AFTER = 30.0
# The download prints a line each time this share of the file has arrived, not one per piece.
DOWNLOAD_STEP = 0.1
# Characters of a piece shown: an event, a token or an error's short body fits whole; a longer
# piece is cut at a space, and says how much more there was.
SHOWN_PIECE = 160


@dataclass(frozen=True)
class Attempt:
    exercise: str
    target: str  # as the learner named it
    sample: Path | None  # the file the exercise's route serves (its record's ``sample``), if it serves one


def request_path(command: str) -> str:
    """The path and query the printed command asks for."""
    found = re.search(r"http://127\.0\.0\.1:8000(/[^'\s]*)", command)
    assert found, command
    return found.group(1)


def request_body(command: str) -> bytes | None:
    """The JSON body the printed command sends (curl's -d '...'), or None for a GET."""
    found = re.search(r" -d '(.*)'", command)
    return found.group(1).encode("utf-8") if found else None


def counted(count: int, noun: str) -> str:
    """1 piece, 2 pieces."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def piece_text(data: bytes) -> str:
    """A piece as Python would write it (spaces and line ends visible), cut at a space when it is long."""
    text = data.decode("utf-8", "replace")
    if len(text) <= SHOWN_PIECE:
        return repr(text)
    space = text.rfind(" ", 0, SHOWN_PIECE)
    cut = space + 1 if space > SHOWN_PIECE // 2 else SHOWN_PIECE
    return f"{text[:cut]!r} and {counted(len(text) - cut, 'more character')}"


def status_meaning(status: int, exercise: str) -> str:
    """What an error status says about the route, for the statuses a learner meets first ("" otherwise)."""
    if status == 501:
        return (
            f"501 is the starter's placeholder: this route is not written yet (see {PAGES.get(exercise, 'its page')})."
        )
    if status == 404:
        return "404: no route of your app answers this path. Is it written, with the exact path the page gives?"
    return ""


def show(out: TextIO, at: float, text: str) -> None:
    print(f"  {at:6.3f} s  {printable(text)}", file=out, flush=True)  # what the app sent stays text


def run_try(attempt: Attempt, out: TextIO = sys.stdout) -> int:
    exercise = exercise_named(attempt.exercise)
    # The request the exercise's timing checks send, from the command they print.
    path = request_path(exercise.try_it)
    target = launch.resolve_target(attempt.target)
    served = exercise.sample
    env = {served.variable: str(attempt.sample)} if served is not None and attempt.sample is not None else {}
    try:
        app = launch.start_app(target, env)
    except launch.AppStartError as error:
        print(f"Your app did not start: {error}", file=out)
        tail = str(error.log).strip().splitlines()[-15:] if error.log else []
        print(printable("\n".join("  " + line for line in tail)), file=out)
        launch.shutdown()
        return 1
    try:
        print(f"Started {attempt.target} on {app.base_url}; it is stopped again at the end.", file=out)
        if served is not None and attempt.sample is not None:
            size = attempt.sample.stat().st_size
            print(f"It serves {attempt.sample} ({size:,} bytes) as {served.variable}.", file=out)
        print(f"{'GET' if request_body(exercise.try_it) is None else 'POST'} {path}", file=out)
        print(f"(By hand, with your app started on port 8000: {exercise.try_it})", file=out, flush=True)
        receive(app, path, attempt.exercise, out, request_body(exercise.try_it))
    finally:
        app.stop()
        launch.shutdown()
    return 0


def receive(app: launch.RunningApp, path: str, exercise: str, out: TextIO, body: bytes | None = None) -> None:
    """Send the request (a POST of ``body`` when there is one) and print each piece of the answer as it arrives."""
    download = exercise_named(exercise).sample is not None
    timeout = httpx.Timeout(GIVE_UP_AFTER, connect=5.0)
    sent = time.perf_counter()
    # The bytes as the app sends them, as the grader asks (grader.probes.http.IDENTITY).
    with httpx.Client(base_url=app.base_url, timeout=timeout, trust_env=False, headers=IDENTITY) as client:
        try:
            method, asked = ("GET", None) if body is None else ("POST", {"Content-Type": "application/json"})
            with client.stream(method, path, content=body, headers=asked) as response:
                headers = ", ".join(
                    f"{name}: {value}"
                    for name, value in response.headers.items()
                    if name
                    in ("content-type", "content-length", "content-disposition", "cache-control", "accept-ranges")
                )
                show(out, time.perf_counter() - sent, f"HTTP {response.status_code}  {headers}")
                meaning = status_meaning(response.status_code, exercise)
                if meaning:
                    print(f"{' ' * 12}{meaning}", file=out)
                size = int(response.headers.get("content-length", 0) or 0)
                pieces, received, next_report = 0, 0, DOWNLOAD_STEP
                for chunk in response.iter_raw():
                    at = time.perf_counter() - sent
                    pieces, received = pieces + 1, received + len(chunk)
                    if not download or response.status_code != 200:
                        show(out, at, piece_text(chunk))
                    elif size and received >= next_report * size:
                        show(out, at, f"{received:,} bytes ({received / size:.0%}), {memory(app)}")
                        next_report += DOWNLOAD_STEP
                    if at > GIVE_UP_AFTER:
                        show(out, at, f"still going after {GIVE_UP_AFTER:g} s: stopped here")
                        return
                read = f"{counted(pieces, 'piece')}, {counted(received, 'byte')}"
                show(out, time.perf_counter() - sent, f"end of the body: {read}")
        except httpx.HTTPError as error:
            show(out, time.perf_counter() - sent, f"the request failed: {type(error).__name__}: {error}")


def memory(app: launch.RunningApp) -> str:
    try:
        sample = app.meter.memory()
    except OSError:
        return "server memory unknown"
    return f"server memory {sample.rss / 2**20:.0f} MiB"
