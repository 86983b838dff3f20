"""A timed check that fails has its exercise recorded again before any verdict (grader.secondlook).

Noise only makes an app look worse: a stall bunches tokens or holds the
probing requests. The second recording decides, so one busy moment costs no
points, while an app that really blocks fails on both recordings.
"""

from __future__ import annotations

import dataclasses

import pytest
from helpers import BANK, REFERENCE_APP, STARTER_APP, chat_app, paced_tokens, stream

import grader.plugin
from grader.checkapi import CheckFailed
from grader.cli import grade
from grader.recording import AppRecording, Chunk, StartRecording
from grader.secondlook import Judge, doubtful, replace_exercises


def passes(app, reference=None):
    return None


def fails_when_slow(app, reference=None):
    if app.label == "slow":
        raise CheckFailed("slow")


def fails(app, reference=None):
    raise CheckFailed("always")


def judges(*extra: Judge) -> list[Judge]:
    return [Judge("app.starts", (), False, passes, ("app",)), *extra]


def recorded(label: str) -> AppRecording:
    return AppRecording(label, StartRecording(True, 0.1))


def test_an_exercise_is_doubtful_when_a_timed_check_fails_for_the_app_or_the_reference():
    checks = judges(Judge("chat.pacing", ("app.starts",), True, fails_when_slow, ("app",)))
    assert doubtful(checks, recorded("slow"), recorded("reference")) == {"chat.pacing": ["your app"]}
    assert doubtful(checks, recorded("learner"), recorded("slow")) == {"chat.pacing": ["the reference"]}
    assert doubtful(checks, recorded("slow"), recorded("slow")) == {"chat.pacing": ["your app", "the reference"]}
    assert doubtful(checks, recorded("learner"), recorded("reference")) == {}


def test_a_failed_check_that_is_not_timed_asks_for_no_second_look():
    checks = judges(Judge("chat.content", ("app.starts",), False, fails, ("app",)))
    assert doubtful(checks, recorded("learner"), recorded("reference")) == {}


def test_a_timed_check_whose_parent_failed_asks_for_no_second_look():
    # An unwritten route fails its status check and every timed check below it: recording it again shows nothing new.
    checks = judges(
        Judge("chat.status", ("app.starts",), False, fails_when_slow, ("app",)),
        Judge("chat.pacing", ("chat.status",), True, fails_when_slow, ("app",)),
    )
    assert doubtful(checks, recorded("slow"), recorded("reference")) == {}


def test_the_second_recording_replaces_only_its_exercises():
    first = dataclasses.replace(
        chat_app(stream(paced_tokens())),
        recordings={"chat": "first chat", "events": "first events"},
        crashes={"chat": [], "chat-more": [], "events": []},
        probe_errors={"events": "kept"},
        elapsed={"chat": 2.0, "events": 3.0},
        log="first log",
    )
    second = dataclasses.replace(
        recorded("app"),
        recordings={"chat": "second chat"},
        crashes={"chat-more": []},
        elapsed={"chat": 1.5},
        log="second log",
    )
    merged = replace_exercises(first, second, ["chat"])
    assert merged.recordings == {"chat": "second chat", "events": "first events"}
    assert merged.crashes == {"events": [], "chat-more": []}
    assert merged.probe_errors == {"events": "kept"}
    assert merged.elapsed == {"chat": 4.5, "events": 3.0}  # the learner waited for both recordings
    assert merged.log == "first log\nsecond log"


class Recorder:
    """``record_apps`` as the plugin calls it, counting calls; ``doctors`` spoil the first, second... recording."""

    def __init__(self, *doctors) -> None:
        self.calls: list[list[str]] = []
        self.doctors = doctors
        self.real = grader.plugin.record_apps

    def __call__(self, learner, reference, exercises, *args, **kwargs):
        self.calls.append(list(exercises))
        recorded = self.real(learner, reference, exercises, *args, **kwargs)
        doctor = self.doctors[len(self.calls) - 1] if len(self.calls) <= len(self.doctors) else None
        return doctor(*recorded) if doctor is not None else recorded


def statuses(result) -> dict[str, str]:
    return {check.id: check.status for check in result.checks}


def stalled_loop(learner: AppRecording, reference: AppRecording) -> tuple[AppRecording, AppRecording]:
    """A busy moment on the learner's server: every small request held for a second."""
    chat = dataclasses.replace(learner.chat, busy_latencies=[1.0] * len(learner.chat.busy_latencies))
    return dataclasses.replace(learner, recordings={**learner.recordings, "chat": chat}), reference


def reference_taking_turns(learner: AppRecording, reference: AppRecording) -> tuple[AppRecording, AppRecording]:
    """A busy moment on the reference's server: its concurrent streams read one at a time."""
    streams = [
        dataclasses.replace(
            stream,
            sent_at=0.0,
            chunks=[Chunk((index + 3 * number) * 0.2, chunk.data) for number, chunk in enumerate(stream.chunks)],
        )
        for index, stream in enumerate(reference.chat.concurrent)
    ]
    chat = dataclasses.replace(reference.chat, concurrent=streams)
    return learner, dataclasses.replace(reference, recordings={**reference.recordings, "chat": chat})


def graded_chat(monkeypatch, app, *doctors):
    """Grade ``app`` on exercise 1 in this process: the result, and the exercises of each recording made."""
    recorder = Recorder(*doctors)
    monkeypatch.setattr(grader.plugin, "record_apps", recorder)
    result, output = grade(str(app), exercise=["chat"], seed=7)
    assert result is not None, output
    return result, recorder.calls


@pytest.mark.slow
def test_one_spoilt_recording_costs_a_correct_app_nothing(monkeypatch):
    result, calls = graded_chat(monkeypatch, REFERENCE_APP, stalled_loop)
    assert calls == [["chat"], ["chat"]]
    assert statuses(result)["chat.nonblocking"] == "passed"
    # The note names the check that asked for it, and whose recording failed it.
    assert any("recorded again" in note and "chat.nonblocking (your app)" in note for note in result.notes)


@pytest.mark.slow
def test_an_app_that_blocks_fails_on_the_second_recording_too(monkeypatch):
    result, calls = graded_chat(monkeypatch, BANK / "chat_time_sleep_async.py")
    assert calls == [["chat"], ["chat"]]
    assert statuses(result)["chat.nonblocking"] == "failed"


@pytest.mark.slow
def test_an_unwritten_route_is_recorded_once(monkeypatch):
    # Its timed checks' parents fail (a 501): a second recording would show nothing new.
    _, calls = graded_chat(monkeypatch, STARTER_APP)
    assert calls == [["chat"]]


@pytest.mark.slow
def test_when_the_second_recordings_reference_cant_judge_a_check_the_first_recordings_verdict_stands(monkeypatch):
    # First: the app's loop held (a fault, or a stall); second: the reference's streams read one at a time,
    # so the second recording can't judge chat.nonblocking. The first, whose reference passed it, does.
    result, calls = graded_chat(monkeypatch, REFERENCE_APP, stalled_loop, reference_taking_turns)
    assert calls == [["chat"], ["chat"]]
    nonblocking = next(check for check in result.checks if check.id == "chat.nonblocking")
    assert nonblocking.status == "failed", nonblocking.message
    assert nonblocking.reference_status == "passed"
