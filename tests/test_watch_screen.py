"""Watch mode's screen: the first failure in full, the rest counted, where to go next, one progress line."""

from __future__ import annotations

from grader import browser
from grader.exercises import NAMES
from grader.render.watch import LINE_WIDTH, WatchScreen, progress_lines, render_watch
from grader.results import CheckResult, GradeResult
from grader.watch import grading_environment

EXERCISES = ["chat", "bigfile", "events"]


def graded(exercise: str, statuses: list[str]) -> GradeResult:
    checks = [CheckResult("app.starts", "app", "The app starts", "passed", 0.0)]
    checks += [
        CheckResult(f"{exercise}.c{n}", exercise, f"check {n}", status, 1.0, message=f"what c{n} saw")
        for n, status in enumerate(statuses, 1)
    ]
    return GradeResult(
        "starter/app.py", "/site-packages/grader/kit/reference/app.py", "0", "now", 2.1, [exercise], checks
    )


def test_the_first_failure_is_shown_in_full_and_the_rest_counted():
    result = graded("chat", ["passed", "failed", "failed", "skipped"])
    text = render_watch(WatchScreen(result, "chat", {"chat": (1, 4)}), EXERCISES)
    assert "what c2 saw" in text
    assert "what c3 saw" not in text
    assert "(2 more after this: chat.c3, chat.c4;" in text
    assert "chat ██░░░░░░░░ 1/4" in text  # a quarter of ten cells, rounded
    assert "bigfile not graded yet" in text
    assert text.rstrip().splitlines()[-1].startswith("Graded chat in 2.1 s.")


def test_full_marks_point_to_the_next_exercise_not_finished():
    result = graded("chat", ["passed", "passed"])
    text = render_watch(WatchScreen(result, "chat", {"chat": (2, 2), "bigfile": (0, 3), "events": (3, 3)}), EXERCISES)
    assert "Exercise 1 (GET /chat-stream) is at full marks. Next: exercises/02-bigfile.md." in text
    assert "total 5/8" in text


def test_all_done_points_to_the_extra_credit_and_the_reference_where_it_is():
    result = graded("events", ["passed"])
    done = {name: (1.0, 1.0) for name in NAMES}
    text = render_watch(WatchScreen(result, "events", done), list(NAMES), unicode=False)
    assert "Every exercise is at full marks" in text
    assert "/site-packages/grader/kit/reference/app.py" in text
    assert "##########" in text  # the ASCII bar


def test_with_hints_the_whole_hint_shows_under_where_to_look():
    result = graded("chat", ["failed"])
    result.checks[1] = CheckResult(
        "chat.pacing",
        "chat",
        "Tokens come delay apart",
        "failed",
        2.0,
        message="too fast",
        hint="Wait exactly `delay` seconds.",
    )
    step_by_step = render_watch(WatchScreen(result, "chat", {"chat": (0, 2)}), EXERCISES)
    whole = render_watch(WatchScreen(result, "chat", {"chat": (0, 2)}, full_hints=True), EXERCISES)
    for text in (step_by_step, whole):
        assert "Look at how long your generator waits between two tokens." in text
    assert "Wait exactly `delay` seconds." not in step_by_step
    assert "streamgrade hint chat.pacing" in step_by_step
    assert "Hint: Wait exactly delay seconds." in whole  # code shown without its backticks


def test_a_route_not_written_yet_is_one_line_and_the_page_to_start_with():
    result = graded("bigfile", ["failed", "skipped"])
    result.unwritten = ["bigfile"]
    text = render_watch(WatchScreen(result, "bigfile", {"bigfile": (0, 2)}), EXERCISES)
    assert "Not written yet: GET /bigfile answers 501" in text
    assert "Start with exercises/02-bigfile.md" in text
    assert "what c1 saw" not in text


def test_a_score_from_before_the_latest_save_says_so():
    # chat was at full marks; a save broke it, but only bigfile was graded.
    result = graded("bigfile", ["failed"])
    text = render_watch(WatchScreen(result, "bigfile", {"chat": (15, 15), "bigfile": (0, 1)}), EXERCISES)
    assert "chat ██████████ 15/15 (earlier)" in text
    assert "bigfile ░░░░░░░░░░ 0/1 " in text and "0/1 (earlier)" not in text
    assert "(earlier): graded before your latest save" in text


def test_an_exercise_not_graded_in_this_run_is_not_called_unjudgeable():
    result = graded("bigfile", ["passed"])
    text = render_watch(WatchScreen(result, "events", {"chat": (1, 1), "bigfile": (1, 1)}), EXERCISES)
    assert "Not graded yet: save a change to grade it." in text
    assert "No check could judge" not in text


def test_watch_leaves_the_browser_check_to_streamgrade_check_unless_the_learner_names_a_browser(monkeypatch):
    monkeypatch.delenv(browser.CHROMIUM_VARIABLE, raising=False)
    assert grading_environment()[browser.CHROMIUM_VARIABLE] == "off"
    monkeypatch.setenv(browser.CHROMIUM_VARIABLE, "/opt/chromium/chrome")
    assert grading_environment()[browser.CHROMIUM_VARIABLE] == "/opt/chromium/chrome"


def test_the_progress_of_every_exercise_fits_a_terminal_80_columns_wide():
    progress = {name: (7.5, 17.0) for name in NAMES}
    for unicode in (True, False):
        text = progress_lines(progress, list(NAMES), unicode)
        assert all(len(line) <= LINE_WIDTH for line in text.splitlines()), text
        assert all(name in text for name in NAMES) and "total" in text
