"""Batch grading a class: every entry graded, outputs an LMS takes, resumable, shardable."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
import xmlschema
from helpers import BANK, REFERENCE_APP, ROOT, batch, ctrl_c_reaches_it, statuses

# Grades classes of submissions in batch processes.
pytestmark = pytest.mark.slow

# Only the chat exercise: the batch machinery is the same for all three, and
# this keeps a class of ten under a minute.
CONFIG = """
exercises = ["chat"]
hidden = ["chat.validation"]
[points]
"chat.nonblocking" = 5
[limits]
start_timeout = 3
submission_timeout = 60
"""

# Gradescope's documented results.json format.
GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "gradescope-results.schema.json").read_text())


def zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as packed:
        for path in folder.rglob("*"):
            packed.write(path, path.relative_to(folder.parent))


def make_class(root: Path) -> Path:
    """A class folder mixing every kind of entry, usable and not."""
    submissions = root / "submissions"
    submissions.mkdir()
    shutil.copyfile(BANK / "chat_buffered.py", submissions / "alice.py")
    (submissions / "bob").mkdir()
    shutil.copyfile(REFERENCE_APP, submissions / "bob" / "app.py")
    (submissions / "carol" / "starter").mkdir(parents=True)
    shutil.copyfile(BANK / "chat_split_spaces.py", submissions / "carol" / "starter" / "app.py")
    (submissions / "dave").mkdir()
    (submissions / "dave" / "notes.txt").write_text("I did not finish")
    erin = root / "erin"
    erin.mkdir()
    shutil.copyfile(BANK / "correct_sync_generators.py", erin / "app.py")
    zip_folder(erin, submissions / "erin.zip")
    (submissions / "frank.zip").write_text("this is not a zip")
    with zipfile.ZipFile(submissions / "mallory.zip", "w") as packed:
        packed.writestr("app.py", "from fastapi import FastAPI\napp = FastAPI()\n")
        packed.writestr("../../escaped.py", "print('I got out')\n")
    with zipfile.ZipFile(submissions / "oscar.zip", "w", compression=zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("app.py", "from fastapi import FastAPI\napp = FastAPI()\n")
        packed.writestr("padding.bin", b"\0" * (80 * 1024 * 1024))  # a small zip that unpacks huge
    shutil.copyfile(BANK / "broken_syntax_error.py", submissions / "zoë (late).py")
    shutil.copyfile(BANK / "broken_import_hangs.py", submissions / "hana.py")
    (submissions / "README.txt").write_text("not a submission")
    return submissions


EXPECTED_IDS = ["alice", "bob", "carol", "dave", "erin", "frank", "hana", "mallory", "oscar", "zoe_late"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("class")
    submissions = make_class(root)
    config = root / "grading.toml"
    config.write_text(CONFIG)
    out = root / "out"
    finished = batch(submissions, out, config)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return {
        "root": root,
        "submissions": submissions,
        "out": out,
        "config": config,
        "stdout": finished.stdout,
        "stderr": finished.stderr,
    }


def test_every_entry_is_graded_and_unusable_ones_say_why(graded):
    out = graded["out"]
    assert sorted(path.name for path in (out / "students").iterdir()) == EXPECTED_IDS
    for student in EXPECTED_IDS:
        for name in ("results.json", "report.html", "junit.xml"):
            assert (out / "students" / student / name).is_file(), f"{student}/{name}"
        assert (out / "gradescope" / f"{student}.json").is_file()
    rows = {row["id"]: row for row in csv.DictReader((out / "grades.csv").read_text().splitlines())}
    assert "no app.py" in rows["dave"]["note"]
    assert "not a readable zip" in rows["frank"]["note"]
    assert "outside the submission" in rows["mallory"]["note"]
    assert "unpacks to more than" in rows["oscar"]["note"]
    assert statuses(out / "students" / "zoe_late" / "results.json")["app.starts"] == "failed"
    assert (
        "did not answer within 3 s"
        in json.loads((out / "students" / "hana" / "results.json").read_text())["checks"][0]["message"]
    )


def test_nothing_is_written_outside_out(graded):
    root = graded["root"]
    assert not list(root.parent.rglob("escaped.py"))
    assert not list(graded["out"].rglob("*.partial"))


def test_batch_verdicts_equal_single_runs(graded, tmp_path):
    for student, source in (
        ("alice", BANK / "chat_buffered.py"),
        ("carol", BANK / "chat_split_spaces.py"),
        ("bob", REFERENCE_APP),
    ):
        single = tmp_path / f"{student}.json"
        command = [
            sys.executable,
            "-m",
            "grader",
            "check",
            str(source),
            "--exercise",
            "chat",
            "--json",
            str(single),
            "--no-html",
        ]
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=120)
        assert statuses(graded["out"] / "students" / student / "results.json") == statuses(single), student


def test_the_config_sets_points_and_hidden_checks(graded):
    bob = json.loads((graded["out"] / "students" / "bob" / "results.json").read_text())
    by_id = {check["id"]: check for check in bob["checks"]}
    assert by_id["chat.nonblocking"]["max_score"] == 5 and by_id["chat.nonblocking"]["score"] == 5
    assert by_id["chat.validation"]["hidden"] is True
    assert bob["score"] == bob["max_score"] == 17  # 15 + 3 more for nonblocking, bigfile and events not counted


def test_grades_csv_opens_cleanly_as_a_spreadsheet(graded):
    text = (graded["out"] / "grades.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert [row["id"] for row in rows] == EXPECTED_IDS
    assert {"id", "score", "max_score", "chat_score", "app.starts", "chat.incremental"} <= set(rows[0])
    by_id = {row["id"]: row for row in rows}
    assert by_id["bob"]["score"] == "17" and by_id["alice"]["chat.incremental"] == "0"
    assert all(float(row["score"]) <= float(row["max_score"]) for row in rows)
    # The identity column an LMS matches on keeps the entry's name; the id is the report's folder.
    assert by_id["zoe_late"]["name"] == "zoë (late)" and by_id["erin"]["name"] == "erin"
    assert json.loads((graded["out"] / "students" / "zoe_late" / "results.json").read_text())["name"] == "zoë (late)"


def test_gradescope_files_follow_the_documented_format(graded):
    for path in (graded["out"] / "gradescope").iterdir():
        document = json.loads(path.read_text())
        jsonschema.validate(document, GRADESCOPE_SCHEMA)
    bob = json.loads((graded["out"] / "gradescope" / "bob.json").read_text())
    visibility = {test["extra_data"]["check"]: test["visibility"] for test in bob["tests"]}
    assert visibility["chat.validation"] == "after_published" and visibility["chat.status"] == "visible"


def test_junit_xml_counts_the_failures(graded):
    suite = ElementTree.parse(graded["out"] / "students" / "alice" / "junit.xml").getroot()
    assert suite.tag == "testsuite" and int(suite.get("failures")) >= 1
    failed = [case.get("name") for case in suite if case.find("failure") is not None]
    assert "chat.incremental" in failed


def test_every_junit_file_follows_the_common_schema(graded):
    schema = xmlschema.XMLSchema(Path(__file__).parent / "junit.xsd")
    for student in EXPECTED_IDS:
        schema.validate(str(graded["out"] / "students" / student / "junit.xml"))
    cases = list(ElementTree.parse(graded["out"] / "students" / "alice" / "junit.xml").getroot().iter("testcase"))
    assert cases and all(float(case.get("time")) >= 0 for case in cases)


def test_the_class_summary_links_every_report_and_shows_pass_rates(graded):
    page = (graded["out"] / "index.html").read_text()
    for student in EXPECTED_IDS:
        assert f'href="students/{student}/report.html"' in page
    assert "Score distribution" in page and "What the class struggles with" in page
    assert "<script" not in page


def test_a_rerun_keeps_unchanged_results_and_regrades_changed_ones(graded):
    out, submissions = graded["out"], graded["submissions"]
    kept_before = (out / "students" / "bob" / "results.json").stat().st_mtime_ns
    with (submissions / "alice.py").open("a") as source:
        source.write("\n# a late fix\n")
    finished = batch(submissions, out, graded["config"])
    assert finished.returncode == 0, finished.stderr
    assert "1 graded, 9 unchanged and kept" in finished.stdout
    assert (out / "students" / "bob" / "results.json").stat().st_mtime_ns == kept_before


def test_a_bad_config_stops_before_grading_anything(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copyfile(BANK / "chat_buffered.py", submissions / "alice.py")
    for text, message in (
        ('[points]\n"chat.statsu" = 2\n', "points.chat.statsu: not a check id"),
        ('exercises = ["chat", "video"]\n', "exercises must be a non-empty list"),
        ("[limits]\nstart_timeout = -1\n", "limits.start_timeout: expected seconds"),
        ("colour = 'blue'\n", "unknown key 'colour'"),
        ("points = [", "not valid TOML"),
    ):
        config = tmp_path / "grading.toml"
        config.write_text(text)
        finished = batch(submissions, tmp_path / "out", config)
        assert finished.returncode == 2
        assert message in finished.stderr and "Traceback" not in finished.stderr
        assert not (tmp_path / "out").exists()


def small_class(root: Path) -> Path:
    submissions = root / "submissions"
    submissions.mkdir()
    for name, source in (
        ("amy", "chat_buffered"),
        ("ben", "chat_double_delay"),
        ("cy", "chat_no_validation"),
        ("di", "chat_sleep_first"),
    ):
        shutil.copyfile(BANK / f"{source}.py", submissions / f"{name}.py")
    return submissions


def test_shards_merged_equal_the_unsharded_run(tmp_path):
    submissions = small_class(tmp_path)
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    for args in ((tmp_path / "whole",), (tmp_path / "one", "--shard", "1/2"), (tmp_path / "two", "--shard", "2/2")):
        finished = batch(submissions, args[0], config, *args[1:])
        assert finished.returncode == 0, finished.stderr
    merged = tmp_path / "merged"
    command = [
        sys.executable,
        "-m",
        "grader",
        "merge",
        str(tmp_path / "one"),
        str(tmp_path / "two"),
        "--out",
        str(merged),
        "--config",
        str(config),
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=60)
    assert (merged / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()
    assert (merged / "index.html").read_text() == (tmp_path / "whole" / "index.html").read_text()
    assert sorted(path.name for path in (merged / "gradescope").iterdir()) == [
        "amy.json",
        "ben.json",
        "cy.json",
        "di.json",
    ]


def test_an_interrupted_batch_loses_nothing_and_resumes(tmp_path):
    submissions = small_class(tmp_path)
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "--config", str(config)]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **ctrl_c_reaches_it()
    ) as running:
        # Wait for the first submission to be complete (its progress line), then press Ctrl-C.
        assert running.stdout is not None
        for line in running.stdout:
            if line.startswith("[1/4]"):
                break
        running.send_signal(signal.SIGINT)
        rest = running.communicate(timeout=60)[0]
    assert running.returncode == 130, rest
    assert "run the same command again" in rest
    done = [path.parent.name for path in out.glob("students/*/.submission-hash")]
    assert 1 <= len(done) < 4
    assert not list(out.rglob("*.partial"))
    kept = {name: (out / "students" / name / "results.json").stat().st_mtime_ns for name in done}

    finished = batch(submissions, out, config)
    assert finished.returncode == 0, finished.stderr
    assert f"{4 - len(done)} graded, {len(done)} unchanged and kept" in finished.stdout
    assert all((out / "students" / name / "results.json").stat().st_mtime_ns == mtime for name, mtime in kept.items())


def test_force_regrades_everything(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copyfile(BANK / "chat_buffered.py", submissions / "amy.py")
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    assert batch(submissions, tmp_path / "out", config).returncode == 0
    again = batch(submissions, tmp_path / "out", config, "--force")
    assert "1 graded, 0 unchanged" in again.stdout


def test_a_shard_must_be_k_of_n(tmp_path):
    submissions = small_class(tmp_path)
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    finished = batch(submissions, tmp_path / "out", config, "--shard", "3/2")
    assert finished.returncode == 2 and "--shard 3/2" in finished.stderr


def test_the_gradescope_command_writes_results_where_gradescope_reads_them(tmp_path):
    submission = tmp_path / "autograder" / "submission"
    submission.mkdir(parents=True)
    shutil.copyfile(BANK / "chat_buffered.py", submission / "app.py")
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    results = tmp_path / "autograder" / "results" / "results.json"
    command = [
        sys.executable,
        "-m",
        "grader",
        "gradescope",
        "--submission",
        str(submission),
        "--results",
        str(results),
        "--config",
        str(config),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert finished.returncode == 0, finished.stderr
    document = json.loads(results.read_text())
    jsonschema.validate(document, GRADESCOPE_SCHEMA)
    failed = {test["extra_data"]["check"] for test in document["tests"] if test["status"] == "failed"}
    assert "chat.incremental" in failed


def test_the_example_config_in_the_docs_is_valid():
    from grader.batch.config import load_config

    config = load_config(ROOT / "docs" / "grading.example.toml")
    assert config.points["chat.nonblocking"] == 5
