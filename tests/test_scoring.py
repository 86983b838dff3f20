"""Points only for what was judged: every output counts the same checks."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

from grader.render.csv import render_csv
from grader.render.gradescope import gradescope_results
from grader.render.html import render_html
from grader.render.junit import render_junit
from grader.render.terminal import render_terminal
from grader.results import CheckResult, GradeResult


def a_check(check_id: str, status: str, points: float = 2, **fields) -> CheckResult:
    return CheckResult(
        id=check_id,
        exercise=check_id.split(".")[0],
        title=f"Title of {check_id}",
        status=status,
        max_score=points,
        **fields,
    )


def a_result() -> GradeResult:
    checks = [
        a_check("chat.status", "passed", 1),
        a_check("chat.incremental", "inconclusive", 3, message="The reference failed it too."),
        a_check("chat.pacing", "skipped", 2, message="Not checked.", parent_unjudged=True),
        a_check("chat.first-token", "error", 2, message="The grader failed.", traceback="KeyError"),
        a_check("chat.content", "failed", 2, message="Wrong bytes."),
        a_check("chat.validation", "skipped", 1, message="Not checked, because chat.content did not pass."),
    ]
    return GradeResult("app.py", "reference", "0", "now", 1.0, ["chat"], checks)


def test_a_check_that_was_not_judged_costs_no_points_in_the_score():
    result = a_result()
    assert (result.base_score, result.max_score) == (1, 4)  # status 1, content 2 and validation 1 were judged
    assert result.subtotals() == {"chat": (1, 4)}
    assert "Score: 1/4" in render_terminal(result)


def test_the_csv_leaves_unjudged_checks_empty_and_sums_the_judged():
    rows = list(csv.DictReader(io.StringIO(render_csv({"ann": a_result()}, [c.id for c in a_result().checks]))))
    assert (rows[0]["score"], rows[0]["max_score"]) == ("1", "4")
    assert rows[0]["chat.pacing"] == rows[0]["chat.incremental"] == rows[0]["chat.first-token"] == ""
    assert rows[0]["chat.validation"] == "0"  # skipped under a failure: judged, and lost


def test_gradescope_gives_an_unjudged_check_nothing_to_lose_and_says_why():
    tests = {test["extra_data"]["check"]: test for test in gradescope_results(a_result())["tests"]}
    for check in ("chat.incremental", "chat.pacing", "chat.first-token"):
        assert tests[check]["max_score"] == 0 and tests[check]["score"] == 0
        assert tests[check]["output"].startswith("Not counted: ")
    assert "depends on could not be judged" in tests["chat.pacing"]["output"]
    assert tests["chat.validation"]["max_score"] == 1


def test_junit_marks_an_unjudged_child_as_skipped_and_not_counted():
    suite = ElementTree.fromstring(render_junit(a_result(), "ann"))
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert "not counted" in cases["chat.pacing"].find("skipped").get("message")
    assert "not counted" not in cases["chat.validation"].find("skipped").get("message")


def test_the_html_report_says_an_unjudged_check_is_not_counted():
    page = render_html(a_result())
    assert page.count("not counted: ") >= 3
