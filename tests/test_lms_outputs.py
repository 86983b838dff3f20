"""What an LMS or a CI server reads: grades.csv keyed by the exact name, JUnit XML in the common form."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest
import xmlschema

from grader.batch.submissions import discover
from grader.render.csv import render_csv
from grader.render.json import render_json
from grader.render.junit import render_junit
from grader.results import CheckResult, GradeResult

JUNIT_SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "junit.xsd")


def result(name: str, *statuses: str) -> GradeResult:
    checks = [
        CheckResult(
            id=f"chat.check{index}",
            exercise="chat",
            title=f"Check {index}",
            status=status,  # type: ignore[arg-type]
            max_score=1,
            message="what happened",
            hint="what to try",
            duration=0.0123,
        )
        for index, status in enumerate(statuses)
    ]
    return GradeResult(
        target=f"{name}.py",
        reference="reference/app.py",
        grader_version="0.1.0",
        started_at="2026-12-01T14:32:40+00:00",
        duration=3.5,
        exercises=["chat"],
        checks=checks,
        name=name,
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("name", ["jane.doe@uni.edu", "李雷", "zoë", "O'Brien, Pat", "a=b", " =space first"])
def test_grades_csv_keeps_the_exact_name_in_its_identity_column(name):
    table = rows(render_csv({"safe-id": result(name, "passed")}, ["chat.check0"]))
    assert table[0]["name"] == name and table[0]["id"] == "safe-id"
    assert next(iter(table[0])) == "name"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_a_name_a_spreadsheet_would_run_is_neutralised_with_a_quote(name):
    table = rows(render_csv({"s": result(name, "passed")}, ["chat.check0"]))
    assert table[0]["name"] == "'" + name


def test_the_exact_name_is_in_results_json_and_survives_a_round_trip():
    original = result("李雷", "passed", "failed")
    data = json.loads(render_json(original))
    assert data["name"] == "李雷"
    assert GradeResult.from_dict(data).name == "李雷"


def test_results_saved_before_the_name_existed_still_load():
    data = json.loads(render_json(result("amy", "passed")))
    del data["name"]
    for check in data["checks"]:
        del check["duration"]
    assert GradeResult.from_dict(data).name == ""


def test_submission_names_are_the_entries_names_exactly(tmp_path):
    for entry in ("jane.doe@uni.edu.zip", "李雷.py", "zoe\u0308.py"):  # the last decomposed, as macOS stores it
        (tmp_path / entry).write_bytes(b"")
    names = {submission.name for submission in discover(tmp_path)}
    assert names == {"jane.doe@uni.edu", "李雷", "zo\u00eb"}


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="names there are always valid Unicode")
def test_a_file_name_that_is_not_utf8_gets_a_replacement_character_not_a_crash(tmp_path):
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.py"), os.O_CREAT | os.O_WRONLY))
    (submission,) = discover(tmp_path)
    assert submission.name == "caf\ufffd"
    assert rows(render_csv({submission.id: result(submission.name, "passed")}, []))[0]["name"] == "caf\ufffd"


def test_junit_testcases_carry_their_time_and_the_file_follows_the_common_schema():
    xml = render_junit(result("zoë", "passed", "failed", "error", "skipped", "inconclusive"), "zoe")
    JUNIT_SCHEMA.validate(xml)
    document = JUNIT_SCHEMA.to_dict(xml)
    assert [str(case["@time"]) for case in document["testcase"]] == ["0.012"] * 5
    assert document["@timestamp"] == "2026-12-01T14:32:40"


def test_the_schema_refuses_a_testcase_without_time():
    xml = '<testsuite name="s" tests="1"><testcase classname="chat" name="chat.status"/></testsuite>'
    assert not JUNIT_SCHEMA.is_valid(xml)


def test_two_entries_of_one_name_keep_their_suffixes_so_no_two_rows_share_a_name(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob.py").write_text("")
    (tmp_path / "carol.zip").write_bytes(b"")
    names = sorted(submission.name for submission in discover(tmp_path))
    assert names == ["bob", "bob.py", "carol"]
