"""Hints step by step: a failure shows where to look; `streamgrade hint` gives the full hint and the page's."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from helpers import ROOT

from grader.hints import PAGES, STEPS, page_hints, page_text, static_hints
from grader.render.terminal import MARKS, render_check
from grader.results import CheckResult


def test_every_check_has_a_step_and_every_step_a_check():
    assert set(STEPS) == set(static_hints())


def test_every_page_hint_a_step_names_is_on_its_page():
    for check_id, step in STEPS.items():
        page = PAGES.get(check_id.split(".")[0])
        if step.page_hints:
            quoted = page_hints(page_text(page), step.page_hints)
            assert [int(text.split(".")[0]) for text in quoted] == list(step.page_hints), check_id


def test_a_failure_shows_where_to_look_not_the_answer():
    hint = "Wait between tokens, not before the first one: sleep after a yield."
    failed = CheckResult(
        "chat.first-token",
        "chat",
        "The first token is sent at once",
        "failed",
        2.0,
        message="The first token arrived late.",
        hint=hint,
    )
    text = "\n".join(render_check(failed, MARKS))
    assert "Look at where your generator waits" in text
    assert "Hint 5 on exercises/01-chat-stream.md" in text
    assert "The full hint: streamgrade hint chat.first-token" in text
    assert hint not in text


@pytest.mark.slow
def test_hint_gives_the_hint_of_the_last_grade_and_the_pages_hints(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "grader"]
    graded = subprocess.run(
        [*command, "check", str(ROOT / "tests" / "bank" / "chat_sleep_first.py"), "--exercise", "chat", "--no-html"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert "The full hint: streamgrade hint chat.first-token" in graded.stdout, graded.stdout + graded.stderr
    shown = subprocess.run(
        [*command, "hint", "chat.first-token"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    assert shown.returncode == 0
    assert "The hint for what your last grade saw (" in shown.stdout
    assert "chat_sleep_first.py" in shown.stdout
    assert re.search(r"From exercises/01-chat-stream\.md:\n  5\. ", shown.stdout)


def test_a_mistyped_check_id_gets_the_closest_one():
    shown = subprocess.run(
        [sys.executable, "-m", "grader", "hint", "chat.pacin"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert shown.returncode == 2
    assert "did you mean chat.pacing?" in shown.stderr
