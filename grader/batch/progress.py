"""Progress of a batch: a bar with counts and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from grader.batch.runner import Outcome
from grader.render.terminal import printable

BAR_WIDTH = 30


class Progress:
    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.started = time.monotonic()
        self.graded = 0  # graded in this run, for the ETA (reused results cost nothing)
        self.unusable = 0

    def __call__(self, outcome: Outcome, done: int, total: int) -> None:
        if not outcome.reused:
            self.graded += 1
        if outcome.note:
            self.unusable += 1
        result = outcome.result
        line = f"{outcome.submission.id}: {result.base_score:g}/{result.max_score:g}"
        if result.extra_credit:
            line += f" +{result.extra_credit:g} extra"
        if outcome.reused:
            line += " (unchanged, kept)"
        if outcome.note:
            line += f" ({printable(outcome.note)})"
        if not self.interactive:
            print(f"[{done}/{total}] {line}", file=self.stream, flush=True)
            return
        elapsed = time.monotonic() - self.started
        remaining = total - done
        eta = f"{elapsed / self.graded * remaining:.0f} s left" if self.graded and remaining else ""
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        print(f"\r\033[K{line}", file=self.stream)
        print(f"[{bar}] {done}/{total} graded, {self.unusable} unusable  {eta}", end="", file=self.stream, flush=True)

    def finish(self) -> None:
        if self.interactive:
            print(file=self.stream)
