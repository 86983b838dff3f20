"""`streamgrade watch`: a save is graded again, a newer save stops the grade in progress, Ctrl-C leaves nothing.

Each test edits the app file and waits for the lines the watch prints about
it (with a time limit), never for a fixed time.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import REFERENCE_APP, ROOT, STARTER_APP, ctrl_c_reaches_it

from grader.launch.linux import reaper

# Runs streamgrade watch, which grades on each save.
pytestmark = pytest.mark.slow

# Generous: a grade on this shared 2-core machine takes seconds; the limit only bounds a hang.
LINE_TIMEOUT = 90.0


class Watching:
    """A `streamgrade watch` process and the lines it prints, read as they come."""

    def __init__(self, app: Path, *arguments: str) -> None:
        self.app = app
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "watch", str(app), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=app.parent,
            **ctrl_c_reaches_it(),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, wanted: Callable[[str], bool], what: str) -> str:
        """The next line for which ``wanted`` holds; fails if the watch ends or takes too long first."""
        while True:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no {what} within {LINE_TIMEOUT:g} s; the watch printed:\n" + "\n".join(self.seen))
            if line is None:
                pytest.fail(f"the watch ended before {what}; it printed:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if wanted(line):
                return line

    def verdict(self) -> list[str]:
        """The screen of the next grade, up to its last line."""
        start = len(self.seen)
        self.wait_for(lambda line: line.startswith("Graded "), "verdict")
        return self.seen[start:]

    def save(self, source: Path) -> None:
        self.app.write_text(source.read_text())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[Callable[..., Watching]]:
    started: list[Watching] = []

    def start(source: Path, *arguments: str) -> Watching:
        app = tmp_path / "app.py"
        shutil.copyfile(source, app)
        started.append(Watching(app, *arguments))
        return started[-1]

    yield start
    for watch in started:
        if watch.process.poll() is None:
            watch.process.kill()
            watch.process.wait()
        watch.reader.join(timeout=LINE_TIMEOUT)
        assert watch.process.stdout is not None
        watch.process.stdout.close()


def test_a_save_is_graded_again_and_full_marks_point_to_the_next_exercise(watching):
    watch = watching(STARTER_APP, "--exercise", "chat")
    first = watch.verdict()
    assert any(re.match(r"Exercise 1: /chat-stream.*  0/\d+$", line) for line in first), first
    assert any("Not written yet: GET /chat-stream answers 501" in line for line in first), first

    watch.save(REFERENCE_APP)
    watch.wait_for(lambda line: line == "Saved: app.py.", "the save noticed")
    second = watch.verdict()
    assert any(re.match(r"Exercise 1: /chat-stream.*  (\d+)/\1$", line) for line in second), second  # full marks
    assert any("is at full marks. Next: exercises/02-bigfile.md" in line for line in second)
    assert "(this first grade also records the reference" not in "\n".join(second)  # the reference was kept
    assert watch.stop() == 130


def test_a_save_during_a_grade_stops_it_and_grades_the_newest_file(watching):
    watch = watching(STARTER_APP, "--exercise", "events")
    watch.verdict()
    watch.save(REFERENCE_APP)
    watch.wait_for(lambda line: line.startswith("Grading events"), "the second grade starting")
    watch.save(STARTER_APP)  # while the reference is being graded
    watch.wait_for(lambda line: line.startswith("A newer save"), "the grade in progress stopped")
    last = watch.verdict()
    assert any(line.startswith("Exercise 3: /events") and " 0/" in line for line in last), last
    assert watch.stop() == 130


def test_ctrl_c_during_a_grade_leaves_nothing_running(watching):
    watch = watching(REFERENCE_APP, "--exercise", "events")
    watch.verdict()
    (watch.app.parent / "helper.py").write_text("# a second file of the app\n")
    watch.wait_for(lambda line: line.startswith("Grading events"), "a grade starting")
    # The grading process, the fork server and the app's server it started are all below the watch.
    before = reaper.descendants([watch.process.pid])
    assert before
    assert watch.stop() == 130
    assert reaper.living(before) == set()
    watch.wait_for(lambda line: line == "Stopped watching.", "the goodbye")


def test_watch_refuses_a_target_that_is_not_an_app(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "grader", "watch", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such file" in done.stderr
