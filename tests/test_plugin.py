"""The pytest plugin: instructors add checks by writing tests; statuses keep the grader's faults apart."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import REFERENCE_APP

pytest_plugins = ["pytester"]

INSTRUCTOR_CHECKS = '''
from grader.checkapi import CheckFailed, check


@check("chat.short-default", points=2, depends=("app.starts",), hint="Keep it short.")
def test_default_reply_is_short(app):
    """Every content reply is under 100 bytes"""
    for prompt, exchange in app.chat.content:
        if len(exchange.body) >= 100:
            raise CheckFailed("too long")


@check("chat.impossible", points=1, hint="Nobody can.")
def test_impossible(app):
    """A check even the reference fails"""
    raise CheckFailed("the reply never says XYZZY")


@check("chat.crashes", points=1)
def test_crashes(app):
    """A check with a bug in it"""
    return {}["missing"]


@check("chat.after-crash", points=1, depends=("chat.crashes",))
def test_after_crash(app):
    """A check whose parent crashed"""
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run pytest on an instructor's check file, graded against the reference app."""
    folder = tmp_path_factory.mktemp("instructor")
    (folder / "test_my_checks.py").write_text(INSTRUCTOR_CHECKS)
    output = folder / "results.json"

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(folder / "test_my_checks.py"),
            "-p",
            "no:cacheprovider",
            f"--streamgrade-target={REFERENCE_APP}",
            "--streamgrade-exercise=chat",
            f"--streamgrade-json={output}",
            "--rootdir",
            str(folder),
            "-c",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert output.exists(), finished.stdout + finished.stderr
    return {check["id"]: check for check in json.loads(output.read_text())["checks"]}


@pytest.mark.slow
def test_an_instructors_check_is_graded_like_the_built_in_ones(graded):
    check = graded["chat.short-default"]
    assert (check["status"], check["score"], check["max_score"]) == ("passed", 2, 2)
    assert check["title"] == "Every content reply is under 100 bytes"


@pytest.mark.slow
def test_a_check_the_reference_fails_is_inconclusive_not_failed(graded):
    check = graded["chat.impossible"]
    assert check["status"] == "inconclusive"
    assert check["reference_status"] == "failed"
    assert "reference solution failed this check" in check["message"]


@pytest.mark.slow
def test_a_crashing_check_is_an_error_with_its_traceback(graded):
    check = graded["chat.crashes"]
    assert check["status"] == "error"
    assert "KeyError" in check["traceback"]
    assert "not your app's fault" in check["message"]


@pytest.mark.slow
def test_a_check_whose_parent_did_not_pass_is_skipped(graded):
    check = graded["chat.after-crash"]
    assert check["status"] == "skipped"
    assert "chat.crashes" in check["message"]


def test_the_plugin_is_inert_without_a_target(pytester: pytest.Pytester):
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_plugin_lends_no_app_fixture_to_other_test_suites(pytester: pytest.Pytester):
    pytester.makepyfile("def test_uses_app(app):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'app' not found*"])


@pytest.mark.slow
def test_a_custom_check_runs_under_filterwarnings_error(tmp_path):
    """Projects run their tests with warnings as errors; the grader's fixtures must not warn (pytest 10)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    error\n")
    (tmp_path / "test_strict.py").write_text(
        "from grader.checkapi import check\n\n\n"
        "@check('chat.answers', points=1, depends=('app.starts',))\n"
        "def test_answers(app, reference):\n"
        "    '''Both apps answered the chat probe'''\n"
        "    assert app.chat is not None and reference.chat is not None\n"
    )
    output = tmp_path / "results.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_strict.py",
            "-p",
            "no:cacheprovider",
            f"--streamgrade-target={REFERENCE_APP}",
            "--streamgrade-exercise=chat",
            f"--streamgrade-json={output}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Warning" not in finished.stdout, finished.stdout
    checks = {check["id"]: check["status"] for check in json.loads(output.read_text())["checks"]}
    assert checks == {"chat.answers": "passed"}


def test_a_check_that_depends_on_no_check_fails_collection(tmp_path):
    (tmp_path / "test_typo.py").write_text(
        "from grader.checkapi import check\n\n\n"
        '@check("chat.typo", points=1, depends=("chat.stauts",))\n'
        "def test_typo(app):\n"
        '    """A check whose parent is misspelt"""\n'
    )
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_typo.py"),
            "-p",
            "no:cacheprovider",
            f"--streamgrade-target={REFERENCE_APP}",
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = finished.stdout + finished.stderr
    assert finished.returncode == pytest.ExitCode.USAGE_ERROR, said
    assert "chat.typo depends on 'chat.stauts', which is no check" in said
    assert "Traceback" not in said


def test_every_built_in_check_depends_on_checks_that_exist():
    from grader.batch.config import known_checks
    from grader.exercises import check_modules

    known = set(known_checks())
    for name in check_modules():
        module = __import__(name, fromlist=["_"])
        for value in vars(module).values():
            for mark in getattr(value, "pytestmark", []):
                if mark.name == "check":
                    assert set(mark.kwargs.get("depends", ())) <= known, mark.args[0]
