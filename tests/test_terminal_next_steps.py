"""The terminal report says where to go next: the first run's welcome, the exercise after a finished one."""

from __future__ import annotations

from grader.exercises import NAMES
from grader.render.terminal import render_terminal
from grader.results import CheckResult, GradeResult


def result(
    statuses: dict[str, str],
    *,
    unwritten: tuple[str, ...] = (),
    bonus: str = "failed",
    timings: dict[str, float] | None = None,
) -> GradeResult:
    """Two checks per exercise, given their status by exercise, and one extra-credit check on the download."""
    checks = [CheckResult("app.starts", "app", "The app starts", "passed", 0.0)]
    for exercise, status in statuses.items():
        for number in (1, 2):
            checks.append(CheckResult(f"{exercise}.c{number}", exercise, f"check {number}", status, 1.0))
    if "bigfile" in statuses:
        checks.append(CheckResult("bigfile.ranges", "bigfile", "ranges", bonus, 1.0, bonus=True))
    return GradeResult(
        "/kit/starter/app.py",
        "reference/app.py",
        "0",
        "2026-12-01T00:00:00+00:00",
        3.6,
        list(statuses),
        checks,
        unwritten=list(unwritten),
        timings=timings or {},
    )


def test_the_untouched_starter_says_zero_is_expected_and_where_to_start():
    text = render_terminal(
        result({"chat": "failed", "bigfile": "failed", "events": "failed"}, unwritten=("chat", "bigfile", "events"))
    )
    assert "A score of 0 is expected here" in text
    assert "Start with exercises/01-chat-stream.md and write GET /chat-stream in starter/app.py." in text
    assert "uvicorn starter.app:app --reload --reload-dir starter" in text
    # One line per unwritten exercise instead of its checks.
    assert text.count("Not written yet:") == 3
    assert "check 1" not in text
    assert len(text.splitlines()) <= 24  # one screen


def test_a_written_route_shows_its_checks_and_no_welcome():
    text = render_terminal(result({"chat": "failed", "bigfile": "failed"}, unwritten=("bigfile",)))
    assert "A score of 0 is expected" not in text
    assert "check 1" in text  # chat's checks, in full
    assert text.count("Not written yet:") == 1


def test_full_marks_point_to_the_next_exercise_not_yet_finished():
    text = render_terminal(result({"chat": "passed", "bigfile": "passed", "events": "failed"}))
    assert "Exercise 1 (GET /chat-stream) is at full marks. Next: exercises/03-events.md." in text
    assert "Exercise 2 (GET /bigfile) is at full marks. Next: exercises/03-events.md." in text
    assert "Every exercise is at full marks" not in text


def test_one_exercise_graded_alone_at_full_marks_points_to_the_following_one():
    text = render_terminal(result({"chat": "passed"}))
    assert "Exercise 1 (GET /chat-stream) is at full marks. Next: exercises/02-bigfile.md." in text


def test_every_exercise_at_full_marks_points_to_the_extra_credit_and_the_reference():
    text = render_terminal(result(dict.fromkeys(NAMES, "passed")))
    assert "Every exercise is at full marks" in text
    assert "extra credit" in text and "(0 of 1 points so far)" in text
    assert "reference/app.py" in text


def test_the_total_time_and_the_longest_exercise_are_shown():
    text = render_terminal(result({"chat": "failed", "events": "failed"}, timings={"chat": 1.6, "events": 2.9}))
    assert "graded in 3.6 s; events took the longest, 2.9 s" in text


def test_code_in_titles_hints_and_nudges_is_shown_without_backticks():
    from grader.render.terminal import render_check
    from grader.render.watch import WatchScreen, render_watch

    failed = CheckResult(
        "chat.pacing",
        "chat",
        "Tokens come `delay` seconds apart",
        "failed",
        2.0,
        message="Asked for delay=0.3: the tokens came 0.6 s apart.",
        hint="Wait with `await asyncio.sleep(delay)` once per token.",
        reproduce="curl -N 'http://127.0.0.1:8000/chat-stream?delay=0.3'",
    )
    grade = result({"chat": "failed"})
    grade.checks[1:3] = [failed]
    first_run = result(
        {"chat": "failed", "bigfile": "failed", "events": "failed"}, unwritten=("chat", "bigfile", "events")
    )
    for text in (
        "\n".join(render_check(failed, {"failed": "x"}, full_hint=True)),
        render_terminal(grade),
        render_terminal(first_run),
        render_watch(WatchScreen(grade, "chat", {"chat": (0.0, 3.0)}, full_hints=True), ["chat"]),
    ):
        assert "`" not in text, text
    full = "\n".join(render_check(failed, {"failed": "x"}, full_hint=True))
    assert "Tokens come delay seconds apart" in full and "Wait with await asyncio.sleep(delay) once per token." in full


def test_a_path_a_url_or_a_code_span_is_never_cut_across_two_lines():
    from grader.render.code import terminal_lines, wrapped

    said = "Look at the declaration of the delay parameter. Hint 4 on exercises/01-chat-stream.md."
    assert "exercises/01-chat-stream.md." in wrapped(said, 80, "      ", "      ")[-1]
    url = "curl -i 'http://127.0.0.1:8000/chat-stream?prompt=a-very-long-prompt-with-hyphens&delay=-0.5'"
    assert any(url.split()[-1] in line for line in wrapped(url, 40))
    hint = "Declare the limits: `delay: Annotated[float, Query(ge=0, le=5)] = 0.2` (ge and le include the ends)."
    lines = terminal_lines(hint, 30, "  ", "  ")
    assert any("delay: Annotated[float, Query(ge=0, le=5)] = 0.2" in line for line in lines), lines
    assert not any("`" in line or "\ue000" in line for line in lines)


def test_an_exercise_is_named_by_its_pages_number():
    text = render_terminal(result({"chat": "failed", "openai": "passed"}))
    assert "Exercise 5 (POST /v1/chat/completions) is at full marks." in text
