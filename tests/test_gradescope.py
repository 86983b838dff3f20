"""Gradescope, end to end: the autograder zip built as docs/GRADESCOPE.md says, installed, and run.

The zip's wheel is installed non-editable into a fresh venv by the doc's
setup.sh, and the doc's run_autograder grades submissions in a folder that
stands in for /autograder (the scripts take it from AUTOGRADER). What
Gradescope reads, results.json, is checked against its documented format.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest
from helpers import REFERENCE_APP, ROOT

from grader.exercises import NAMES, samples
from grader.launch.linux.backend import detect_isolation
from grader.render.gradescope import gradescope_results
from grader.results import CheckResult, GradeResult
from grader.samplefile import sample_folder

BANK = Path(__file__).parent / "bank"
DOC = ROOT / "docs" / "GRADESCOPE.md"
SCHEMA = json.loads((Path(__file__).parent / "gradescope-results.schema.json").read_text())
HIDDEN_POINTS = 7  # distinctive, so the top-level output can be searched for it
CONFIG = f"""
hidden = ["chat.validation"]
[points]
"chat.validation" = {HIDDEN_POINTS}
"""
# Reads the reference solution shipped in the installed package, if it can, and refuses to start then.
SNOOPING_APP = """
from grader import kit
try:
    text = kit.reference_app().read_text()
except OSError:
    text = ""
if "FastAPI" in text:
    raise RuntimeError("I could read the reference solution")
from fastapi import FastAPI
app = FastAPI()
"""

ISOLATED, WHY_NOT = detect_isolation()
pytestmark = pytest.mark.timeout(1200)  # builds a wheel and a venv, then grades four times


def doc_block(after: str, language: str) -> str:
    """The first ``language`` code block after the line ``after`` in the doc."""
    text = DOC.read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match, f"no {language} block after {after!r} in {DOC.name}"
    return match.group(1)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("gradescope")
    # Each script is the block under a line that names it alone.
    (work / "setup.sh").write_text(doc_block("\n`setup.sh`\n", "bash"))
    (work / "run_autograder").write_text(doc_block("\n`run_autograder`\n", "bash"))
    (work / "grading.toml").write_text(CONFIG)
    # The doc's zip-building commands, for this checkout.
    build = doc_block("zip it all", "console").replace("path/to/streamgrade", str(ROOT))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.monotonic()
    finished = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", build], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    # Gradescope unpacks the zip into /autograder/source and runs setup.sh from there.
    root = work / "root"
    with zipfile.ZipFile(work / "autograder.zip") as packed:
        names = packed.namelist()
        packed.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "grading.toml"} <= set(names)
    assert any(name.startswith("streamgrade-") and name.endswith(".whl") for name in names)
    (root / "source" / "run_autograder").chmod(0o755)
    env = {**env, "AUTOGRADER": str(root), "STREAMGRADE_VENV": str(work / "venv")}
    finished = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=900
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return {"root": root, "env": env, "venv": work / "venv", "setup_seconds": time.monotonic() - started}


def run_autograder(autograder: dict, files: dict[str, str | bytes]) -> tuple[subprocess.CompletedProcess, dict]:
    root = autograder["root"]
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, content in files.items():
        path = root / "submission" / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    # Gradescope runs it from /autograder, and nothing of the checkout is in reach.
    finished = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=autograder["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = root / "results" / "results.json"
    assert results.is_file(), finished.stdout + finished.stderr
    document = json.loads(results.read_text())
    jsonschema.validate(document, SCHEMA)
    return finished, document


def checks(document: dict) -> dict[str, dict]:
    return {test["extra_data"]["check"]: test for test in document["tests"]}


@pytest.mark.slow
def test_a_correct_submission_gets_every_point(autograder):
    finished, document = run_autograder(autograder, {"app.py": REFERENCE_APP.read_bytes()})
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert all(test["status"] == "passed" for test in document["tests"]), finished.stdout
    assert document["score"] >= sum(test["max_score"] for test in document["tests"]) > 0
    assert checks(document)["chat.validation"]["max_score"] == HIDDEN_POINTS


@pytest.mark.slow
def test_a_faulty_submission_fails_its_fault_with_a_rendered_hint(autograder):
    finished, document = run_autograder(autograder, {"app.py": (BANK / "chat_buffered.py").read_bytes()})
    assert finished.returncode == 0, finished.stdout + finished.stderr
    incremental = checks(document)["chat.incremental"]
    assert incremental["status"] == "failed" and incremental["score"] == 0
    assert incremental["output_format"] == "md" and "**Hint:**" in incremental["output"]
    chat = {check: test["status"] for check, test in checks(document).items() if check.startswith("chat.")}
    assert chat["chat.first-token"] == chat["chat.pacing"] == "failed"  # skipped under a failure: lost
    assert chat["chat.status"] == chat["chat.content"] == "passed"
    assert 0 < document["score"] < sum(test["max_score"] for test in document["tests"])


@pytest.mark.slow
def test_tests_come_in_exercise_order_and_hidden_points_stay_hidden(autograder):
    _, document = run_autograder(autograder, {"app.py": (BANK / "chat_buffered.py").read_bytes()})
    exercises = [test["extra_data"]["check"].split(".")[0] for test in document["tests"]]
    seen = list(dict.fromkeys(exercises))
    assert seen == ["app", *NAMES] and exercises == sorted(exercises, key=seen.index)
    numbers = [tuple(int(part) for part in test["number"].split(".")) for test in document["tests"]]
    assert numbers == sorted(numbers) and numbers[0] == (0, 1) and numbers[1] == (1, 1)
    hidden = [test for test in document["tests"] if test["visibility"] != "visible"]
    assert [test["extra_data"]["check"] for test in hidden] == ["chat.validation"]
    assert hidden[0]["visibility"] == "after_published"
    shown = [test for test in document["tests"] if test["visibility"] == "visible"]
    visible_score = sum(test["score"] for test in shown)
    visible_max = sum(test["max_score"] for test in shown)
    output = document["output"]
    assert f"{visible_score:g} of {visible_max:g} points" in output and "1 more check is hidden" in output
    # No figure that includes the hidden check's points: neither the total nor the full maximum.
    total_max = visible_max + HIDDEN_POINTS
    assert re.findall(r"\d+(?:\.\d+)?", output.split(":", 1)[1])[:2] == [f"{visible_score:g}", f"{visible_max:g}"]
    assert f"{total_max:g}" not in output.split(":", 1)[1]


@pytest.mark.slow
@pytest.mark.skipif(not ISOLATED, reason=f"isolation not available here: {WHY_NOT}")
def test_an_isolated_submission_cannot_read_the_reference_shipped_in_the_package(autograder):
    finished, document = run_autograder(autograder, {"app.py": SNOOPING_APP})
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert checks(document)["app.starts"]["status"] == "passed", checks(document)["app.starts"]["output"]


@pytest.mark.slow
def test_when_the_grader_itself_fails_results_json_says_why_and_the_exit_is_not_zero(autograder):
    # The failure this kit once had: an install without the reference solution.
    reference = next(autograder["venv"].glob("lib/python*/site-packages/grader/kit/reference/app.py"))
    kept = reference.read_bytes()
    reference.unlink()
    try:
        finished, document = run_autograder(autograder, {"app.py": REFERENCE_APP.read_bytes()})
    finally:
        reference.write_bytes(kept)
    assert finished.returncode == 3, finished.stdout + finished.stderr
    assert document["score"] == 0 and "not a verdict on your work" in document["output"]
    (failure,) = document["tests"]
    assert failure["visibility"] == "hidden" and "reference" in failure["output"]
    assert "reference" in document["extra_data"]["grader_error"] or "reference" in failure["output"]
    assert "reference" in finished.stdout  # Gradescope shows standard output to instructors


@pytest.mark.slow
def test_setup_took_this_long(autograder, record_property):
    """Not an assertion on speed: the figure goes into the report (docs/PERFORMANCE.md)."""
    record_property("setup_seconds", round(autograder["setup_seconds"], 1))
    assert autograder["setup_seconds"] > 0


# The renderer and the command on their own, without building an image.


def a_result(*checks: CheckResult) -> GradeResult:
    return GradeResult("app.py", "reference", "0.1.0", "2026-12-01T14:00:00+00:00", 1.0, ["chat"], list(checks))


def test_what_the_app_sent_stays_text_in_the_markdown_output():
    sent = "got '<img src=x onerror=alert(1)>' and ![x](http://evil/) and *bold*"
    check = CheckResult(
        id="chat.content",
        exercise="chat",
        title="Right bytes",
        status="failed",
        max_score=2,
        message=sent,
        hint="Use `StreamingResponse`.",
        reproduce="curl -N 'http://x/?a=```'",
    )
    (test,) = gradescope_results(a_result(check))["tests"]
    message = test["output"].split("\n\n")[0]
    assert re.findall(r"(?<!\\)[<\[\]*]", message) == []  # no tag, link, image or emphasis left
    assert "\\<img src=x onerror=alert(1)\\>" in message and "\\*bold\\*" in message
    assert "**Hint:** Use `StreamingResponse`." in test["output"]  # the author's Markdown, rendered
    assert "````\ncurl -N 'http://x/?a=```'\n````" in test["output"]  # a fence the command can't close


def test_a_bad_grading_config_is_a_grader_failure_with_results_and_exit_3(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "app.py").write_bytes(REFERENCE_APP.read_bytes())
    (tmp_path / "grading.toml").write_text("colour = 'blue'\n")
    results = tmp_path / "results" / "results.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "gradescope",
            "--submission",
            str(tmp_path / "submission"),
            "--results",
            str(results),
            "--config",
            str(tmp_path / "grading.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 3 and "Traceback" not in finished.stderr
    document = json.loads(results.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["score"] == 0 and "unknown key 'colour'" in document["extra_data"]["grader_error"]
    assert [test["visibility"] for test in document["tests"]] == ["hidden"]


@pytest.mark.slow
def test_a_submission_without_an_app_is_graded_not_a_grader_failure(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("I did not finish")
    results = tmp_path / "results.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "gradescope",
            "--submission",
            str(tmp_path / "submission"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    document = json.loads(results.read_text())
    jsonschema.validate(document, SCHEMA)
    assert "no app.py" in checks(document)["app.starts"]["output"]


@pytest.mark.slow
def test_the_image_makes_the_sample_file_where_grading_reads_it(tmp_path, monkeypatch):
    """setup.sh's step: `sample-file --for-grading` fills the cache a grading under the same XDG_CACHE_HOME uses."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    finished = subprocess.run(
        [sys.executable, "-m", "grader", "sample-file", "--for-grading"], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    made = Path(finished.stdout.rsplit(": ", 1)[1].strip())
    assert made.parent == tmp_path / "streamgrade" and made.stat().st_size == 256 * 2**20
    before = made.stat().st_mtime_ns
    assert samples()[0].cached(sample_folder(tmp_path / "work"))[0] == made  # found there, not made again
    assert made.stat().st_mtime_ns == before
