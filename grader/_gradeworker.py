"""A grading process started ahead of time (watch mode): set up, it waits for the word to go.

``grader.watch`` starts it with its request (one JSON line on standard
input, see ``Request``) right after a verdict, while the learner edits.
It then does everything a grade does before the first probe (Python's
start, the imports, pytest's start and collection, loading the reference's
recording, connecting to the fork server: about a second of CPU), and waits
in ``pytest_collection_finish`` for a line ``go``: on a save, only the
probes, the checks and the report are left. The result goes to the file the
request names, and a line ``done`` says it is there.

One grade per process: a grade a newer save makes useless is stopped by
ending its process (SIGTERM unwinds it, so the app's servers are stopped on
the way out), and a fresh process never carries pytest's state from an
earlier run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GO = "go"
DONE = "done"


@dataclass(frozen=True)
class Request:
    target: str  # an absolute path, or module:attribute
    exercises: tuple[str, ...]
    result: str  # where the result JSON goes
    reference_recording: str | None = None  # a saved recording of the reference to grade against
    save_reference: str | None = None  # where to save the reference's recording, when this grade makes one
    start_timeout: float | None = None

    def to_line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Request:
        data = json.loads(line)
        return cls(**{**data, "exercises": tuple(data["exercises"])})


class WaitForGo:
    """A pytest plugin: after collection, before the first probe, wait for the save."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.went: float | None = None

    def pytest_collection_finish(self) -> None:
        if read_line(self.fd) is None:
            sys.exit(0)  # the watch ended before it needed this grade
        self.went = time.perf_counter()


def read_line(fd: int) -> str | None:
    """One line from ``fd``, a byte at a time: reading ahead would swallow the line after it."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            return None
        line += byte
    return line.decode()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    from grader.cli import grade
    from grader.files import write_atomically
    from grader.render.json import render_json

    line = read_line(0)
    if line is None:
        return 0
    request = Request.from_line(line)
    go = WaitForGo(os.dup(0))  # a copy: pytest points descriptor 0 at /dev/null while it runs
    result, output = grade(
        request.target,
        exercise=list(request.exercises),
        reference_recording=request.reference_recording,
        save_reference=request.save_reference,
        start_timeout=request.start_timeout,
        plugins=(go,),
    )
    if go.went is None:
        return 0
    if result is not None:
        # The grade's own time starts at the save, not when this process started to wait for it.
        result.duration = round(time.perf_counter() - go.went, 2)
    text = render_json(result) if result is not None else json.dumps({"error": output[-4000:]})
    write_atomically(Path(request.result), text)
    print(DONE, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
