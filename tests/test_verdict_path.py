"""What lies between the last probe and the verdict stays short: watch mode's save-to-verdict time depends on it."""

from __future__ import annotations

import threading

import pytest
from helpers import STARTER_APP

from grader.cli import grade
from grader.probes.run import Side, stop_side
from grader.recording import AppRecording, StartRecording


class UnraisableSpy:
    """Sees which plugins the grading run loaded."""

    def __init__(self) -> None:
        self.loaded: bool | None = None

    @pytest.hookimpl(tryfirst=True)  # before the grading session, which refuses the missing app
    def pytest_configure(self, config) -> None:
        self.loaded = config.pluginmanager.has_plugin("unraisableexception")


def test_a_grade_does_not_run_the_garbage_collector_harder_at_its_end():
    # pytest's unraisableexception plugin calls gc.collect() five times as the run ends
    # (0.1 to 0.6 s) to report exceptions no one reads in a grade.
    spy = UnraisableSpy()
    grade(str(STARTER_APP.parent / "no-such-app.py"), exercise=["chat"], plugins=(spy,))
    assert spy.loaded is False


class SlowToStop:
    """A server whose stop() only returns once the other server is being stopped too."""

    def __init__(self, both_stopping: threading.Barrier) -> None:
        self.both_stopping = both_stopping
        self.protections = type("Held", (), {"to_dict": lambda self: {"level": "off"}})()
        self.backend = "test"
        self.incidents: list[str] = []
        self.log = type("Log", (), {"text": lambda self: ""})()
        self.process = type("Process", (), {"poll": lambda self: None})()

    def stop(self) -> None:
        self.both_stopping.wait(timeout=30)  # breaks (and fails the test) when stops run one after the other


def test_a_sides_servers_are_stopped_side_by_side():
    barrier = threading.Barrier(2)
    side = Side("learner", None, AppRecording("learner", StartRecording(True, 0.0)))  # type: ignore[arg-type]
    side.servers = {"events": SlowToStop(barrier), "events-more": SlowToStop(barrier)}  # type: ignore[dict-item]
    stop_side(side)
    assert not barrier.broken and side.servers == {}
    assert side.recording.log == ""  # nothing logged, nothing invented
