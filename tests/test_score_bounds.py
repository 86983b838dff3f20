"""No output shows a score above its maximum, and the terminal shows what an app sent as text.

A score is at most its maximum by construction: a check's score is derived
from its status and points, and the batch takes points from the grader's
own checks and the instructor's config, never from a results.json read back
(a file an app under ``limits`` can reach).
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from grader.batch.config import known_checks, load_config
from grader.batch.runner import STUDENTS_DIR, apply_config
from grader.launch.sandbox import Protections
from grader.render.classreport import render_index
from grader.render.csv import render_csv
from grader.render.gradescope import gradescope_results
from grader.render.html import render_html
from grader.render.json import render_json
from grader.render.terminal import render_terminal
from grader.render.watch import WatchScreen, render_watch
from grader.results import CheckResult, GradeResult

# Extra credit worth more than the whole exercise set, and points moved around.
GENEROUS_CONFIG = """
[points]
"bigfile.range" = 100
"bigfile.head" = 50
"chat.status" = 0
"""


def full_marks() -> GradeResult:
    checks = [
        CheckResult(
            id=check_id,
            exercise=check_id.split(".")[0],
            title=info.title,
            status="passed",
            max_score=info.points,
            bonus=info.bonus,
        )
        for check_id, info in known_checks().items()
    ]
    return GradeResult("app.py", "reference", "0", "now", 1.0, ["chat", "bigfile", "events"], checks)


def regular_points() -> float:
    return sum(info.points for info in known_checks().values() if not info.bonus)


def tampered(data: dict) -> dict:
    """What an app that rewrote its own results.json could leave: inflated scores and points, extra checks."""
    for check in data["checks"]:
        check["score"] = 50
    data["checks"][0]["max_score"] = 1e9
    data["checks"][1]["max_score"] = float("inf")
    data["checks"][2]["max_score"] = -5
    data["checks"][3]["bonus"] = True
    data["checks"].append(dict(data["checks"][4]))  # the same check twice
    data["checks"].append({**data["checks"][4], "id": "chat.bonus-points", "max_score": 1000})
    data["score"], data["max_score"] = 50, 47
    return data


@pytest.fixture
def result(tmp_path) -> GradeResult:
    config_file = tmp_path / "grading.toml"
    config_file.write_text(GENEROUS_CONFIG)
    read_back = GradeResult.from_dict(tampered(full_marks().to_dict()))
    return apply_config(read_back, load_config(config_file))


def pairs(pattern: str, text: str) -> list[tuple[float, float]]:
    found = [(float(score), float(maximum)) for score, maximum in re.findall(pattern, text)]
    assert found, f"no score matching {pattern!r}"
    return found


def test_points_come_from_the_grader_and_the_config_not_from_the_file(result):
    by_id = {check.id: check for check in result.checks}
    assert sorted(by_id) == sorted(known_checks()) and len(result.checks) == len(by_id)
    assert by_id["bigfile.range"].max_score == 100 and by_id["bigfile.range"].bonus
    assert by_id["chat.status"].max_score == 0
    for check in result.checks:
        assert check.score == check.max_score == known_checks()[check.id].points or check.id in (
            "bigfile.range",
            "bigfile.head",
            "chat.status",
        )
    assert result.base_score == result.max_score == regular_points() - 1  # chat.status is worth 0 here
    assert result.extra_credit == 150


def test_a_check_never_scores_above_its_points_nor_below_zero():
    check = CheckResult(id="chat.status", exercise="chat", title="t", status="passed", max_score=float("nan"))
    assert check.score == check.max_score == 0
    check = CheckResult(id="chat.status", exercise="chat", title="t", status="failed", max_score=3)
    assert check.score == 0
    assert (
        GradeResult.from_dict(
            {
                **full_marks().to_dict(),
                "checks": [
                    {
                        "id": "chat.status",
                        "exercise": "chat",
                        "title": "t",
                        "status": "failed",
                        "max_score": 1,
                        "score": 50,
                    },
                ],
            }
        ).total
        == 0
    )


def test_no_output_shows_a_score_above_its_maximum(result):
    for score, maximum in pairs(r"Score: ([\d.]+)/([\d.]+)", render_terminal(result)):
        assert score <= maximum
    for score, maximum in pairs(r"  ([\d.]+)/([\d.]+)(?: \+[\d.]+ extra)?\n", render_terminal(result)):
        assert score <= maximum  # each exercise's subtotal
    for score, maximum in pairs(r"Score: ([\d.]+) / ([\d.]+)", render_html(result)):
        assert score <= maximum
    for score, maximum in pairs(
        r'<td class="num">([\d.]+) / ([\d.]+)',
        render_index({"ann": result}, {}, ["chat", "bigfile", "events"], "class", STUDENTS_DIR),
    ):
        assert score <= maximum
    row = next(csv.DictReader(io.StringIO(render_csv({"ann": result}, [check.id for check in result.checks]))))
    assert float(row["score"]) <= float(row["max_score"]) and row["extra_credit"] == "150"
    for name in ("chat", "bigfile", "events"):
        assert float(row[f"{name}_score"]) <= result.subtotals()[name][1]
    # results.json's score is the CSV's (no extra credit); its total adds the extra credit.
    saved = json.loads(render_json(result))
    assert saved["score"] == float(row["score"]) <= saved["max_score"]
    assert saved["total"] == saved["score"] + float(row["extra_credit"])
    gradescope = gradescope_results(result)
    for test in gradescope["tests"]:
        bonus = test["name"].endswith(("[bigfile.range]", "[bigfile.head]"))
        assert test["score"] <= test["max_score"] or bonus  # Gradescope's extra credit: worth 0 of the maximum
    points = f"{regular_points() - 1:g}"
    assert f"{points} of {points} points on the checks shown, and 150 of 150 extra credit." in gradescope["output"]


HOSTILE_TEXT = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\rover\u202egnp.exe\x9b1m"


def test_the_terminal_shows_what_the_app_sent_as_text():
    check = CheckResult(
        id="chat.content",
        exercise="chat",
        title="Content",
        status="failed",
        max_score=2,
        message=f"Expected tokens, got {HOSTILE_TEXT}",
        traceback=HOSTILE_TEXT,
    )
    result = GradeResult(
        f"app{HOSTILE_TEXT}.py",
        "reference",
        "0",
        "now",
        1.0,
        ["chat"],
        [check],
        notes=[HOSTILE_TEXT],
        protections=Protections(level="limits", in_force=[HOSTILE_TEXT]),
    )
    for text in (render_terminal(result), render_watch(WatchScreen(result, "chat"), ["chat"])):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", text), repr(text)
        assert "\\x1b]0;owned\\x07" in text and "red\\rover" in text  # shown, not obeyed


@pytest.mark.parametrize(
    ("level", "said"),
    [
        pytest.param("off", "Sandbox: off. Your app ran as your own program", id="off"),
        pytest.param("limits", "Sandbox: limits. What held:", id="limits"),
        pytest.param("isolate", "Sandbox: isolate. What held:", id="isolate"),
    ],
)
def test_the_terminal_says_which_sandbox_level_the_app_ran_under(level, said):
    result = full_marks()
    result.protections = Protections(level=level, in_force=["a limit"], not_in_force=[])
    assert said in render_terminal(result)
