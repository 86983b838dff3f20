"""The batch's one recording of the reference, taken again when it fails its own checks.

A batch calibrates every submission against one recording of the reference
(``runner.calibrate``). Taken at a bad moment (a load spike at the batch's
start), that recording fails its own timing checks, and each submission's
verdict on them is then unjudged for the whole class: in three batches of
the same class at a load average of 30 to 45 on 2 cores, two had the
reference's gaps at 1.38 s for a 0.5 s delay, and 34 verdicts on chat.pacing
and events.pacing were inconclusive there that the other batch judged. A
recording that fails one of its own checks is taken again.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

from grader.batch.config import check_modules
from grader.checkapi import CheckFailed
from grader.recording import AppRecording

# Recordings of the reference taken at most, the first included. A machine
# busy for longer than that many recordings gets the one that failed the
# fewest of its own checks, and those checks stay unjudged, as in a single
# grade.
CALIBRATION_ATTEMPTS = 3


def check_functions() -> dict[str, Callable[..., None]]:
    """Every built-in check function by its id."""
    found = {}
    for name in check_modules():
        for value in vars(importlib.import_module(name)).values():
            for mark in getattr(value, "pytestmark", []):
                if mark.name == "check":
                    found[mark.args[0]] = value
    return found


def own_failures(recording: AppRecording) -> list[str]:
    """The checks the reference's recording fails when judged against itself, as each grading calibrates."""
    failed = []
    for identifier, function in check_functions().items():
        wanted = inspect.signature(function).parameters
        arguments = {name: recording for name in ("app", "reference") if name in wanted}
        try:
            function(**arguments)
        except CheckFailed:
            failed.append(identifier)
        except Exception:  # not judged here (an exercise not recorded, a missing browser): no failure
            continue
    return failed


def best_recording(
    record: Callable[[], AppRecording],
    failures: Callable[[AppRecording], list[str]] = own_failures,
    attempts: int = CALIBRATION_ATTEMPTS,
) -> tuple[AppRecording, list[list[str]]]:
    """Record until a recording fails none of its own checks, ``attempts`` times at most.

    Returns the recording that failed the fewest (the first of those) and
    what each attempt failed, for the batch's notes.
    """
    best: tuple[AppRecording, list[str]] | None = None
    seen: list[list[str]] = []
    for _ in range(max(1, attempts)):
        recording = record()
        if not recording.start.ok:
            return recording, seen  # the reference did not start: the caller says so
        failed = failures(recording)
        seen.append(failed)
        if best is None or len(failed) < len(best[1]):
            best = (recording, failed)
        if not failed:
            break
    assert best is not None
    return best[0], seen
