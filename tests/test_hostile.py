"""A class with hostile submissions in it, graded in one batch beside correct and faulty ones.

The batch must complete, the others' verdicts must not change, nothing the
hostile apps started may survive, the grader's files and earlier results
must stay as they were, and each hostile app's result must say what
happened. The corpus is in tests/hostile/ (its README says how each app is
bounded).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import REFERENCE_APP, ROOT
from test_grading_bank import FAULTY

import grader
from grader.launch.linux.backend import detect_isolation

HOSTILE = Path(__file__).parent / "hostile"
BANK = Path(__file__).parent / "bank"
BANK_APPS = ["correct_sync_generators", "chat_buffered", "chat_time_sleep_async"]
CONFIG = """
exercises = ["chat"]
[limits]
start_timeout = 10
submission_timeout = 90
"""
ISOLATED, WHY_NOT = detect_isolation()


def digest_tree(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}  # fmt: skip


def marked(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as environ:
                    if marker.encode() in environ.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


class Listener:
    """A TCP listener on 127.0.0.1 that counts who connects."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                self.socket.accept()[0].close()
                self.connections += 1
            except OSError:
                continue

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.socket.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    submissions, out = base / "class", base / "out"
    submissions.mkdir()
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    listener = Listener()

    # An earlier result in OUT, which the tampering app goes after.
    earlier = out / "students" / "earlier_student"
    earlier.mkdir(parents=True)
    (earlier / "results.json").write_text('{"kept": true}')
    (earlier / ".submission-hash").write_text("0")
    tamper_targets = [earlier / "results.json", REFERENCE_APP, submissions]

    names = sorted(path.stem for path in HOSTILE.glob("hostile_*.py"))
    if not ISOLATED:
        # Outside isolation it would really rewrite the grader's files: never run it unconfined.
        names.remove("hostile_tampers")
    for name in names:
        source = (HOSTILE / f"{name}.py").read_text()
        source = source.replace("@MARKER@", marker).replace("@PORT@", str(listener.port))
        source = source.replace("@TAMPER@", "|".join(str(path) for path in tamper_targets))
        (submissions / f"{name}.py").write_text(source)
    for name in BANK_APPS:
        shutil.copy(BANK / f"{name}.py", submissions / f"{name}.py")
    config = base / "grading.toml"
    config.write_text(CONFIG)

    grader_files = digest_tree(Path(grader.__file__).parent)
    reference = REFERENCE_APP.read_bytes()
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out),
               "--config", str(config), "-j", "2"]  # fmt: skip
    try:
        finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    finally:
        listener.close()
    results = {}
    for name in [*names, *BANK_APPS]:
        path = out / "students" / name / "results.json"
        results[name] = json.loads(path.read_text()) if path.is_file() else None
    return {
        "finished": finished, "results": results, "marker": marker, "listener": listener, "out": out,
        "grader_files_before": grader_files, "reference_before": reference, "earlier": earlier,
    }  # fmt: skip


def statuses(result: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in result["checks"]}


def says(result: dict) -> str:
    """Everything the result tells the student: notes and the start check's message."""
    return " ".join([*result["notes"], statuses_message(result)])


def statuses_message(result: dict) -> str:
    return next(check["message"] for check in result["checks"] if check["id"] == "app.starts")


def test_the_batch_completes_with_every_submission_graded(graded):
    assert graded["finished"].returncode == 0, graded["finished"].stdout + graded["finished"].stderr
    missing = [name for name, result in graded["results"].items() if result is None]
    assert missing == []


@pytest.mark.parametrize("name", BANK_APPS)
def test_the_other_apps_verdicts_are_unchanged(graded, name):
    expected = {check_id: status for check_id, status in FAULTY.get(name, {}).items()}
    got = statuses(graded["results"][name])
    wrong = {check_id: status for check_id, status in got.items() if status != expected.get(check_id, "passed")}
    assert wrong == {}, says(graded["results"][name])


def test_no_process_the_corpus_started_is_left(graded):
    assert marked(graded["marker"]) == []


def test_the_graders_files_and_earlier_results_are_unchanged(graded):
    assert digest_tree(Path(grader.__file__).parent) == graded["grader_files_before"]
    assert REFERENCE_APP.read_bytes() == graded["reference_before"]
    assert (graded["earlier"] / "results.json").read_text() == '{"kept": true}'


@pytest.mark.skipif(not ISOLATED, reason=f"isolation not available here: {WHY_NOT}")
def test_the_listener_gets_no_connection_under_isolation(graded):
    assert graded["listener"].connections == 0
    assert graded["results"]["hostile_connects"]["protections"]["level"] == "isolate"


def test_each_hostile_result_says_what_happened(graded):
    results = graded["results"]
    assert "at the 2 GiB memory limit" in says(results["hostile_allocates"]) or "ran out of memory" in says(
        results["hostile_allocates"]
    )
    assert statuses(results["hostile_allocates"])["app.starts"] == "failed"
    assert "still running when grading ended; the grader stopped them" in says(results["hostile_daemon"])
    fork_many = says(results["hostile_fork_many"])
    assert "processes" in fork_many and ("were refused" in fork_many or "still running" in fork_many)
    assert "MiB of output" in says(results["hostile_log_flood"])
    assert statuses(results["hostile_log_flood"])["chat.content"] == "passed"  # the flood cost it nothing
    for result in results.values():
        assert result["protections"]["in_force"], "every result says which protections held"


def test_script_from_an_app_never_reaches_a_report_as_markup(graded):
    out = graded["out"]
    for page in [out / "students" / "hostile_script" / "report.html", out / "index.html"]:
        text = page.read_text()
        assert "<script" not in text.lower()
        assert "<img" not in text.lower()  # the app's <img onerror=...> stays text
    assert "&lt;script&gt;" in (out / "students" / "hostile_script" / "report.html").read_text()  # shown, as text
