"""A batch records the reference once: a timed check that fails against it is judged again beside the live one.

The batch's own load can slow a correct submission next to a reference
recorded alone. The saved reference here is doctored to be impossibly fast
(its first token before its request), so a correct app fails against it
every time: the verdict kept must be the one from the exercise recorded
again beside the live reference (grader.secondlook).
"""

from __future__ import annotations

import importlib
import inspect
import json
import shutil
from pathlib import Path

import pytest
from helpers import REFERENCE_APP

from grader.batch.config import GradingConfig, known_checks
from grader.batch.runner import BatchOptions, Stopping, grade_submission
from grader.batch.submissions import Submission
from grader.exercises import check_modules
from grader.launch import resolve_target
from grader.probes.run import record_reference
from grader.recording import Calibration, save_calibration

# Grades submissions in batch processes.
pytestmark = pytest.mark.slow

BANK = Path(__file__).parent / "bank"
SEED = 11


@pytest.fixture(scope="module")
def impossibly_fast_reference(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("reference")
    recording = record_reference(resolve_target(str(REFERENCE_APP)), ["chat"], workdir, seed=SEED)
    # Every timed reply's first token "sent" 100 s before it was asked for: nothing real is that fast
    # (chat.first-token fails an app only when most of its timed replies are late).
    for reply in recording.chat.timed():
        reply.exchange.chunks[0].at = -100.0
    path = workdir / "reference.json"
    save_calibration(path, Calibration(SEED, ["chat"], recording))
    return path


def grade(source: Path, saved: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    entry = tmp_path / "class" / "alice.py"
    entry.parent.mkdir()
    shutil.copy(source, entry)
    options = BatchOptions(tmp_path / "class", tmp_path / "out", str(REFERENCE_APP), GradingConfig(exercises=("chat",)))
    outcome = grade_submission(Submission("alice", entry), options, saved, Stopping())
    results = json.loads((tmp_path / "out" / "students" / "alice" / "results.json").read_text())
    assert outcome.note == ""  # one grading process did it all
    return {check["id"]: check["status"] for check in results["checks"]}, results["notes"]


def test_every_check_judged_against_the_reference_is_timed():
    timed = {check_id for check_id, info in known_checks().items() if info.timed}
    assert {"chat.first-token", "chat.nonblocking", "events.pacing", "bigfile.throughput"} <= timed
    assert not {"chat.content", "events.framing", "bigfile.memory", "openai.malformed"} & timed
    for module in map(importlib.import_module, check_modules()):
        for value in vars(module).values():
            marks = {mark.name: mark for mark in getattr(value, "pytestmark", [])}
            if "check" in marks and "reference" in inspect.signature(value).parameters:
                assert marks["check"].kwargs.get("timed"), f"{marks['check'].args[0]} compares timing but is not timed"


def test_a_correct_app_failed_by_the_saved_timing_is_graded_again_beside_the_reference(
    impossibly_fast_reference, tmp_path
):
    statuses, notes = grade(REFERENCE_APP, impossibly_fast_reference, tmp_path)
    assert statuses["chat.first-token"] == "passed"
    assert set(statuses.values()) == {"passed"}
    assert any("recorded again" in note for note in notes)


def test_a_real_timing_fault_fails_again_beside_the_reference(impossibly_fast_reference, tmp_path):
    statuses, notes = grade(BANK / "chat_sleep_first.py", impossibly_fast_reference, tmp_path)
    assert statuses["chat.first-token"] == "failed"
    assert any("recorded again" in note for note in notes)


@pytest.fixture(scope="module")
def loaded_reference(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("loaded")
    recording = record_reference(resolve_target(str(REFERENCE_APP)), ["chat"], workdir, seed=SEED)
    # Recorded on a machine so loaded that a small request waited half a second beside its streams:
    # twice that, plus the allowance, is above what a blocked loop makes a request wait.
    recording.chat.busy_latencies = [0.5] * len(recording.chat.busy_latencies)
    path = workdir / "reference.json"
    save_calibration(path, Calibration(SEED, ["chat"], recording))
    return path


def test_a_blocked_loop_fails_against_a_reference_timed_on_a_loaded_machine(loaded_reference, tmp_path):
    # Its streams take turns, which no reference's timing can excuse.
    statuses, _ = grade(BANK / "chat_time_sleep_async.py", loaded_reference, tmp_path)
    assert statuses["chat.nonblocking"] == "failed"
