"""A batch's one recording of the reference is taken again when it fails its own checks."""

from __future__ import annotations

from helpers import chat_app, paced_tokens, stream

from grader.batch.calibration import CALIBRATION_ATTEMPTS, best_recording, own_failures
from grader.recording import AppRecording, StartRecording


def recordings(*labels: str):
    """A fake recorder handing out recordings named ``labels``, in order, and counting its calls."""
    made = iter(labels)
    calls = []

    def record() -> AppRecording:
        calls.append(1)
        return AppRecording(next(made), StartRecording(True, 0.5))

    return record, calls


def failing(table: dict[str, list[str]]):
    return lambda recording: table[recording.label]


def test_a_recording_that_fails_its_own_checks_is_taken_again_until_one_passes_them():
    record, calls = recordings("spike", "calm", "unused")
    kept, seen = best_recording(record, failing({"spike": ["chat.pacing", "events.pacing"], "calm": []}))
    assert kept.label == "calm"
    assert seen == [["chat.pacing", "events.pacing"], []]
    assert len(calls) == 2


def test_a_machine_busy_for_every_attempt_keeps_the_recording_that_failed_least():
    record, calls = recordings("a", "b", "c")
    table = {"a": ["chat.pacing", "events.pacing"], "b": ["events.pacing"], "c": ["chat.pacing", "events.pacing"]}
    kept, seen = best_recording(record, failing(table))
    assert kept.label == "b"
    assert len(calls) == len(seen) == CALIBRATION_ATTEMPTS


def test_a_reference_that_did_not_start_is_not_recorded_again():
    def record() -> AppRecording:
        return AppRecording("reference", StartRecording(False, 0.5, "it crashed"))

    kept, seen = best_recording(record, failing({}))
    assert not kept.start.ok and seen == []


def test_own_failures_judges_a_recording_against_itself_with_the_real_checks():
    good = chat_app(stream(paced_tokens()))
    mislabelled = chat_app(stream(paced_tokens(), content_type="text/html"))
    assert "chat.media-type" in own_failures(mislabelled)
    assert "chat.media-type" not in own_failures(good)
    # Checks of exercises not recorded are not judged, so they are no failure.
    assert not [check for check in own_failures(good) if check.startswith(("bigfile.", "events."))]
