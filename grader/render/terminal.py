"""The results as terminal text: grouped by exercise, failures explained."""

from __future__ import annotations

import re

from grader.exercises import registry
from grader.hints import PAGES, look_at_text
from grader.render.code import terminal_lines, terminal_text, wrapped
from grader.results import CheckResult, GradeResult

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-", "inconclusive": "?"}
ASCII_MARKS = {"passed": "+", "failed": "x", "error": "!", "skipped": "-", "inconclusive": "?"}
EXERCISE_TITLES = {"app": "Your app", **{exercise.name: exercise.title for exercise in registry()}}
EXERCISE_PAGES = PAGES
ROUTES = {exercise.name: exercise.route for exercise in registry()}
# How to start the learner's app by hand, from the kit's folder; --reload-dir
# keeps uvicorn from watching every file in .venv.
START_APP = "uvicorn starter.app:app --reload --reload-dir starter"
# What a "Try it" command needs running first, from the kit's folder. The
# download serves the sample file `streamgrade sample-file` makes.
SERVE_APP = {exercise.name: exercise.serve for exercise in registry() if exercise.serve}
SERVE_ANY = "uvicorn starter.app:app"
WIDTH = 88


# Control characters a terminal would act on rather than show: C0 (ESC
# starts colour, cursor and title sequences; CR rewrites a line), DEL, C1
# (CSI on its own), and the bidirectional overrides that reorder what is
# shown. Newline and tab stay.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character shown as its escape (ESC as \\x1b): what an app sent stays text."""
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def points(value: float) -> str:
    return f"{value:g}"


def render_check(check: CheckResult, marks: dict[str, str], *, full_hint: bool = False) -> list[str]:
    """One check's lines; a failure's hint is where to look, or with ``full_hint`` the whole hint too."""
    if check.counted:
        score = f"{points(check.score)}/{points(check.max_score)}" + (" bonus" if check.bonus else "")
    else:
        score = "not counted"
    # Titles, hints and nudges are the grader's words: their `code` is shown without the backticks.
    lines = [f"  {marks[check.status]} {terminal_text(check.title)}  [{check.id}, {score}, {check.status}]"]
    indent = " " * 6
    if check.status in ("failed", "error", "inconclusive", "skipped") and check.message:
        for paragraph in check.message.splitlines():
            if paragraph.startswith("  "):  # preformatted: a log or a traceback
                lines.append(indent + paragraph)
                continue
            lines += wrapped(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]
    if check.status == "failed":
        nudge = look_at_text(check.id)
        if nudge:  # step by step: where to look first, the answer on request
            lines += terminal_lines(nudge, WIDTH, indent, indent)
            if check.hint and not full_hint:
                lines.append(f"{indent}The full hint: streamgrade hint {check.id}")
        if check.hint and (full_hint or not nudge):
            lines += terminal_lines("Hint: " + check.hint, WIDTH, indent, indent)
        if check.reproduce:
            lines += try_it_lines(check, indent)
    if check.status == "error" and check.traceback:
        lines += [indent + line for line in check.traceback.strip().splitlines()[-3:]]
    return lines


# A command that starts the app itself: uvicorn, after what sets up its file or environment.
STARTS_THE_APP = re.compile(r"(?:streamgrade sample-file && )?(?:env (?:-u \S+ )*)?(?:[A-Z_]+=\S+ )*uvicorn ")


def starts_the_app(command: str) -> bool:
    return STARTS_THE_APP.match(command) is not None


def serve_first(check: CheckResult) -> str:
    """What must run before the check's command, in the kit's folder ("" when the command starts the app)."""
    return "" if starts_the_app(check.reproduce) else SERVE_APP.get(check.exercise, SERVE_ANY)


def try_it_lines(check: CheckResult, indent: str) -> list[str]:
    """The check's command as it works when pasted in the kit's folder, with what must run first."""
    serve = serve_first(check)
    if not serve:
        return [f"{indent}Try it: {check.reproduce}"]
    return [
        f"{indent}Try it: start your app in another terminal ({serve}), then:",
        f"{indent}  {check.reproduce}",
        f"{indent}Or run streamgrade try {check.exercise}: it starts your app, sends a request and shows what arrives.",
    ]


def render_terminal(result: GradeResult, *, unicode: bool = True) -> str:
    marks = MARKS if unicode else ASCII_MARKS
    lines = [f"streamgrade {result.grader_version}: grading {result.target}", ""]
    subtotals = result.subtotals()
    for exercise in ["app", *result.exercises]:
        checks = [check for check in result.checks if check.exercise == exercise]
        if not checks:
            continue
        title = EXERCISE_TITLES.get(exercise, exercise)
        if exercise in subtotals and exercise != "app":
            score, maximum = subtotals[exercise]
            bonus = sum(check.score for check in checks if check.bonus and check.counted)
            title += f"  {points(score)}/{points(maximum)}" + (f" +{points(bonus)} extra" if bonus else "")
        lines.append(title)
        if exercise in result.unwritten and not any(check.status == "passed" for check in checks):
            lines += unwritten_lines(exercise, len(checks), marks)
            lines.append("")
            continue
        for check in checks:
            lines += render_check(check, marks)
        lines.append("")
    lines += [f"Note: {note}" for note in result.notes]
    protections = result.protections
    if protections is not None and protections.level == "off":
        lines.append(
            "Sandbox: off. Your app ran as your own program: no limits, no isolation "
            "(--sandbox auto runs it the way a class batch does)."
        )
    elif protections is not None:
        lines.append(f"Sandbox: {protections.level}. What held:")
        for text in protections.in_force:
            lines += wrapped(text, WIDTH, initial_indent=f"  {marks['passed']} ", subsequent_indent="    ")
        for text in protections.not_in_force:
            lines += wrapped(
                "not in force: " + text, WIDTH, initial_indent=f"  {marks['failed']} ", subsequent_indent="    "
            )
    measured = result.measurement
    if measured is not None and measured.sampled:  # exact figures are the usual case: nothing to say then
        lines.append(f"Measured with the {measured.backend or 'portable'} backend:")
        for text in measured.sampled:
            lines += wrapped(text, WIDTH, initial_indent="  ~ ", subsequent_indent="    ")
    score_line = f"Score: {points(result.base_score)}/{points(result.max_score)}"
    if result.extra_credit_max:
        score_line += f", extra credit {points(result.extra_credit)}/{points(result.extra_credit_max)}"
    lines.append(f"{score_line}  ({duration_text(result)})")
    lines += next_steps(result, marks)
    # Messages quote what the app sent (bodies, headers, its log): never let it drive the terminal.
    return printable("\n".join(lines)) + "\n"


def unwritten_lines(exercise: str, checks: int, marks: dict[str, str]) -> list[str]:
    """One line for an exercise whose route still answers the starter's 501, instead of its checks."""
    said = (
        f"Not written yet: {ROUTES.get(exercise, exercise)} answers 501, the starter's placeholder, "
        f"so its {checks} checks could not judge it."
    )
    return wrapped(said, WIDTH, initial_indent=f"  {marks['skipped']} ", subsequent_indent="    ")


def duration_text(result: GradeResult) -> str:
    """The grade's time, and the exercise that took the longest (the exercises are probed side by side)."""
    text = f"graded in {result.duration:g} s"
    if len(result.timings) > 1:
        slowest = max(result.timings, key=lambda name: result.timings[name])
        text += f"; {slowest} took the longest, {result.timings[slowest]:g} s"
    return text


def at_full_marks(result: GradeResult, exercise: str) -> bool:
    checks = [check for check in result.checks if check.exercise == exercise and not check.bonus]
    return bool(checks) and all(check.status == "passed" for check in checks)


def following(exercise: str) -> str | None:
    """The exercise after ``exercise`` in the kit's order."""
    order = list(EXERCISE_PAGES)
    index = order.index(exercise) if exercise in order else len(order)
    return order[index + 1] if index + 1 < len(order) else None


def full_marks_lines(exercise: str, next_exercise: str | None) -> list[str]:
    """What a learner reads when ``exercise`` is at full marks: where to go next."""
    # The page's own number (exercises/05-... is exercise 5, whichever exercises come before it).
    number = int(EXERCISE_PAGES[exercise].split("/")[-1].split("-")[0]) if exercise in EXERCISE_PAGES else exercise
    line = f"Exercise {number} ({ROUTES.get(exercise, exercise)}) is at full marks."
    if next_exercise is not None:
        line += f" Next: {EXERCISE_PAGES.get(next_exercise, next_exercise)}."
    return [line]


def all_done_lines(bonus: float, bonus_max: float, reference: str) -> list[str]:
    """``reference``: where the reference solution is (a kit from `streamgrade init` has no reference/ folder)."""
    extra = f" ({points(bonus)} of {points(bonus_max)} points so far)" if bonus_max else ""
    return [
        "Every exercise is at full marks. Next: the extra credit on each exercise's page" + extra + ",",
        f"then compare your code with the reference solution, {reference}: the same contract, written by someone else.",
    ]


def next_steps(result: GradeResult, marks: dict[str, str]) -> list[str]:
    """Where to go from here: the first run's welcome, or the exercise after the ones at full marks."""
    started = all(check.status == "passed" for check in result.checks if check.exercise == "app")
    graded = [name for name in result.exercises if name in EXERCISE_PAGES]
    if not started or not graded:
        return []
    if all(name in result.unwritten for name in graded):
        first = graded[0]
        where = "starter/app.py" if result.target.endswith("starter/app.py") else result.target
        return [
            "",
            "A score of 0 is expected here: no route is written yet (each answers 501, the starter's placeholder).",
            f"Start with {EXERCISE_PAGES[first]} and write {ROUTES[first]} in {where}.",
            f"To try it by hand, start the app in a second terminal: {START_APP}",
            "and send it the curl commands on the page. Then grade again with streamgrade, or leave",
            "streamgrade watch running: it grades on every save.",
        ]
    lines = []
    done = [name for name in graded if at_full_marks(result, name)]
    if len(done) == len(EXERCISE_PAGES):
        return ["", *all_done_lines(result.extra_credit, result.extra_credit_max, result.reference)]
    for name in done:
        later = following(name)
        while later is not None and later in done:
            later = following(later)
        lines += full_marks_lines(name, later)
    return ["", *lines] if lines else []
