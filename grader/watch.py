"""``streamgrade watch``: grade, then grade again on every save of the learner's files.

What does not change between saves is kept warm, so that a save's verdict
costs little more than the waits the contract imposes:

- the reference's recording: the first grade records it beside the learner's
  app and saves it (as a batch does, ``recording.save_calibration``); later
  grades probe only the learner's app, with the same seed;
- the fork server: one for the whole watch, shared with each grading process
  (``launch.prepare(share=True)``), so no grade pays for importing uvicorn
  and FastAPI;
- the grading process: the next one is started while the learner edits,
  and waits, set up, for the save (``_gradeworker.py``);
- the 256 MiB sample file stays in the cache folder (``probes/run.py``).

The browser check of exercise 3 is left to ``streamgrade check``: starting
Chromium costs a save seconds (more than the contract's waits for that
exercise), and a check that is not run is not counted. A learner who sets
``STREAMGRADE_CHROMIUM`` chooses for themselves.

A grade runs in its own process, so a save during a grade stops it cleanly:
SIGTERM unwinds it and the app's servers are stopped on the way out. This
process is a subreaper, and at the end (Ctrl-C) it stops its grading
processes and the fork server, then kills whatever they left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from grader import browser, launch
from grader._gradeworker import DONE, GO, Request
from grader.exercises import NAMES as EXERCISES
from grader.hints import save_last
from grader.render.terminal import printable
from grader.render.watch import WatchScreen, full_marks, render_watch
from grader.results import GradeResult

# A grading process asked to stop (SIGTERM) stops its app's servers first;
# past this it is killed.
STOP_GRACE = 5.0
# How long a burst of file events may be quiet before it counts as one save:
# editors write a file in several steps within a few milliseconds.
SAVE_QUIET_MS = 50
CLEAR_SCREEN = "\x1b[2J\x1b[H"


@dataclass
class WatchOptions:
    target: str  # what a grading process is given: an absolute path or module:attribute
    label: str  # the target as the learner named it
    folder: Path  # whose saves start a grade
    exercise: str | None = None  # only this one; otherwise the first not at full marks
    start_timeout: float | None = None
    full_hints: bool = False  # --hints: the whole hint under the failure


class Worker:
    """One grading process, started with its request ahead of the save that lets it go."""

    def __init__(self, request: Request, env: dict[str, str], log: Path) -> None:
        self.request = request
        self.log = log
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader._gradeworker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                **launch.new_group(),
            )
        assert self.process.stdin is not None
        self.process.stdin.write(request.to_line())
        self.process.stdin.flush()

    async def grade(self) -> GradeResult | str:
        """The result, or what went wrong in the grader."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(GO + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return self.failure()
        if (await asyncio.to_thread(self.process.stdout.readline)).strip() != DONE:
            return self.failure()
        text = await asyncio.to_thread(Path(self.request.result).read_text, encoding="utf-8")
        data = json.loads(text)
        return data["error"] if "error" in data else GradeResult.from_dict(data)

    def failure(self) -> str:
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log.exists() else ""
        return f"the grading process ended (code {self.process.poll()}) without a result\n{tail}"

    def stop(self) -> None:
        """Stop it and everything in its session; it stops its app's servers when it can."""
        if self.process.poll() is None:
            launch.stop_group(self.process)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                launch.stop_group(self.process, kill=True)
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class Watch:
    def __init__(self, options: WatchOptions, out: TextIO, workdir: Path, env: dict[str, str]) -> None:
        self.options = options
        self.out = out
        self.workdir = workdir
        self.env = env
        self.calibration = workdir / "reference.json"
        self.progress: dict[str, tuple[float, float]] = {}
        self.workers: set[Worker] = set()
        self.spare: Worker | None = None
        self.changed = asyncio.Event()
        self.started = 0  # grading processes started
        self.unicode = (getattr(out, "encoding", "") or "").lower().replace("-", "") in ("utf8", "utf16")

    # -- what to grade --------------------------------------------------------

    def exercises(self) -> list[str]:
        return [self.options.exercise] if self.options.exercise else list(EXERCISES)

    def current(self) -> str:
        """The exercise being worked on: the first not at full marks (the last when all are)."""
        names = self.exercises()
        return next((name for name in names if not full_marks(self.progress, name)), names[-1])

    def to_grade(self) -> list[str]:
        if not self.calibration.exists():
            return self.exercises()  # the first grade records the reference for every exercise
        if all(full_marks(self.progress, name) for name in self.exercises()):
            return self.exercises()  # all done: each save checks that they still pass
        return [self.current()]

    # -- the loop -------------------------------------------------------------

    def request(self, result: str = "") -> Request:
        """What the next save should grade, as things stand after the last verdict."""
        saved = self.calibration.exists()
        return Request(
            self.options.target,
            tuple(self.to_grade()),
            result,
            reference_recording=str(self.calibration) if saved else None,
            save_reference=None if saved else str(self.calibration),
            start_timeout=self.options.start_timeout,
        )

    def new_worker(self) -> Worker:
        self.started += 1
        request = self.request(str(self.workdir / f"result-{self.started}.json"))
        worker = Worker(request, self.env, self.workdir / "grading.log")
        self.workers.add(worker)
        return worker

    def worker(self) -> Worker:
        """The spare if it is set up for what this save needs, else a new one."""
        spare, self.spare = self.spare, None
        if spare is not None and replace(spare.request, result="") == self.request():
            return spare
        if spare is not None:
            spare.stop()
            self.workers.discard(spare)
        return self.new_worker()

    async def run(self) -> None:
        watching = asyncio.ensure_future(self.watch_files())
        try:
            self.changed.set()  # the first grade needs no save
            while True:
                await self.changed.wait()
                self.changed.clear()
                outcome = await self.grade()
                if outcome is None:
                    self.say("A newer save: that grade was stopped; grading again.")
                    continue
                self.show(outcome)
                if self.spare is None and not self.changed.is_set():
                    self.spare = self.new_worker()  # it sets up while the learner edits
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            self.stop_workers()

    async def watch_files(self) -> None:
        import watchfiles  # here: the other commands don't need it

        async for changes in watchfiles.awatch(
            self.options.folder, watch_filter=watchfiles.PythonFilter(), step=SAVE_QUIET_MS
        ):
            names = sorted({Path(path).name for _, path in changes})
            self.say(f"Saved: {', '.join(names)}.")
            self.changed.set()

    async def grade(self) -> GradeResult | str | None:
        """Grade what this save needs; None when a newer save came first and the grade was stopped."""
        worker = self.worker()
        request = worker.request
        note = " (this first grade also records the reference solution; later ones reuse it)"
        self.say(f"Grading {', '.join(request.exercises)}{note if request.save_reference else ''}...")
        grading = asyncio.ensure_future(worker.grade())
        newer_save = asyncio.ensure_future(self.changed.wait())
        try:
            await asyncio.wait({grading, newer_save}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            newer_save.cancel()
            if not grading.done():
                await asyncio.to_thread(worker.stop)  # ends the grade: its pipe then closes
            await asyncio.gather(grading, return_exceptions=True)
            await asyncio.to_thread(worker.stop)
            self.workers.discard(worker)
        if self.changed.is_set():
            return None
        return grading.result()

    # -- output ---------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def show(self, outcome: GradeResult | str) -> None:
        if isinstance(outcome, str):
            self.say(
                "streamgrade: the grader could not run; this is a bug in streamgrade, not in your app.\n"
                + printable(outcome)
            )
            self.say("Save again to retry.")
            return
        save_last(outcome)  # for `streamgrade hint`
        for name, (score, maximum) in outcome.subtotals().items():  # extra credit is on neither side
            self.progress[name] = (score, maximum)
        for name in outcome.exercises:
            self.progress.setdefault(name, (0.0, 0.0))
        screen = WatchScreen(
            outcome, self.current(), self.progress, watching_label(self.options.folder), self.options.full_hints
        )
        text = render_watch(screen, self.exercises(), unicode=self.unicode)
        self.out.write((CLEAR_SCREEN if self.out.isatty() else "\n") + text)
        self.out.flush()

    def stop_workers(self) -> None:
        for worker in list(self.workers):
            worker.stop()
        self.workers.clear()


def watching_label(folder: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(folder.resolve().relative_to(Path.cwd().resolve())) or "."
    return str(folder)


def grading_environment() -> dict[str, str]:
    """The grading processes' environment: this one, what launch hands down, no browser unless asked."""
    env = {**os.environ, **launch.child_environment()}
    env.setdefault(browser.CHROMIUM_VARIABLE, "off")  # see the module's docstring
    return env


def watch(options: WatchOptions, out: TextIO = sys.stdout) -> int:
    """Run until Ctrl-C (or SIGTERM); leave nothing running."""
    launch.adopt_orphans()  # what a killed grading process leaves comes here, to be swept
    workdir = Path(tempfile.mkdtemp(prefix="streamgrade-watch-"))
    try:
        launch.prepare(share=True)
        asyncio.run(Watch(options, out, workdir, grading_environment()).run())
    except KeyboardInterrupt:
        print("\nStopped watching.", file=out, flush=True)
        return 130
    finally:
        launch.shutdown()
        launch.stop_orphans()  # the fork server's launchers, left to this process when it stopped
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
