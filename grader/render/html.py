"""The results as one self-contained HTML page: checks, and the evidence drawn.

A pure function of a GradeResult. The template (package data, loaded with
importlib.resources) has autoescape on and never marks anything safe: every
string that came from a learner's app is text, whatever it holds. Figures
are inline SVG whose coordinates are computed here; there is no script.
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from importlib import resources
from typing import Any

import jinja2

from grader.evidence import APP, AppEvidence, shown
from grader.exercises import Evidence, registry
from grader.render.code import spans
from grader.render.terminal import EXERCISE_TITLES, MARKS, ROUTES, serve_first
from grader.results import CheckResult, GradeResult, names_a_crash

# An exercise folder may hold this template: the report includes it with the exercise's evidence.
PARTIAL = "report.html.j2"
STATUS_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "grader error (not counted)",
    "skipped": "not checked",
    "inconclusive": "inconclusive (not counted)",
}
# "How the app was run" in words: the sandbox level's name alone ("off") says little to a learner.
RUN_WORDS = {
    "off": "as your own program (sandbox off: no limits, no isolation)",
    "limits": "with limits on memory, processes, CPU time and files (sandbox: limits)",
    "isolate": "isolated and with limits (sandbox: isolate)",
}


def template_source(name: str) -> str:
    """A template of grader/templates, or an exercise's partial ("exercises/<name>/report.html.j2")."""
    package = resources.files("grader")
    path = package / name if name.startswith("exercises/") else package / "templates" / name
    return path.read_text(encoding="utf-8")


def partial(exercise: str) -> str:
    """The exercise's own part of the report, drawn from its evidence ("" when its folder has none)."""
    name = f"exercises/{exercise}/{PARTIAL}"
    return name if (resources.files("grader") / name).is_file() else ""


@cache
def environment() -> jinja2.Environment:
    """One environment, its templates compiled once: a batch renders a report per student."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mib"] = lambda value: f"{value / 2**20:.1f} MiB"
    env.filters["ms"] = lambda value: f"{value * 1000:.0f} ms"
    env.filters["serve_first"] = serve_first
    # str(): a name the data lacks fails as StrictUndefined does (naming it), not as a TypeError in spans.
    env.filters["code_spans"] = lambda text: spans(str(text))
    return env


def not_drawn(exercise: str, evidence: Evidence | None) -> str:
    """Why the learner's evidence is not drawn, "" when it is: an error status is no stream to draw.

    A route not written yet (the starter's 501, a 404) or one that answered an
    error sends a short error body; drawn as token arrivals or parsed as an
    event stream it would only mislead. The checks above say what went wrong.
    """
    status = evidence.answered if evidence is not None else None
    if status is None or 200 <= status < 300:
        return ""
    route = ROUTES.get(exercise, "this route")
    try:
        answered = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        answered = str(status)
    if status == 501:
        return (
            f"No evidence to draw yet: {route} answered {answered}, the starter's placeholder. "
            "Once the route is written, this part shows what your app sent and when."
        )
    if status == 404:
        return (
            f"No evidence to draw: {route} answered {answered}, so no route of your app answers this path. "
            "Is it written, with the exact path the page gives?"
        )
    return f"No evidence to draw: {route} answered {answered} instead of a stream. The checks above say why."


# Evidence that is not this version's dataclass: results saved by another version, or damaged.
UNREADABLE = (
    "No evidence to draw: the evidence in these results was saved in a form this version of streamgrade "
    "does not read. The scores above stand; grade again to see it drawn."
)


def exercise_view(result: GradeResult, exercise: str, checks: list[CheckResult]) -> dict[str, Any]:
    # The exercise's evidence dataclass; None when there is none to draw (an
    # app that did not start, or a results.json whose evidence is not this grader's).
    saved = result.evidence.get(exercise) if exercise != APP else None
    evidence = shown(exercise, saved)
    subtotal = result.subtotals().get(exercise)
    reason = not_drawn(exercise, evidence) if evidence is not None or saved is None else UNREADABLE
    if reason:
        evidence = None  # no panels; the reason is said instead
    record = next((one for one in registry() if one.name == exercise), None)
    figures = record.figures(evidence) if record is not None and record.figures is not None and evidence else None
    return {
        "id": exercise,
        "title": EXERCISE_TITLES.get(exercise, exercise),
        "subtotal": subtotal,
        "checks": checks,
        "figures": figures,
        "evidence": evidence,
        "not_drawn": reason,
        "partial": partial(exercise) if evidence is not None else "",
    }


def render_html(result: GradeResult) -> str:
    exercises = []
    for exercise in ["app", *result.exercises]:
        checks = [check for check in result.checks if check.exercise == exercise]
        if checks:
            exercises.append(exercise_view(result, exercise, checks))
    started = next((check for check in result.checks if check.id == "app.starts"), None)
    show_log = (
        (started is not None and started.status == "failed")
        or any("stopped by itself" in note for note in result.notes)
        # A 500 whose exception the check could not name: the whole log is the next best thing.
        or any(
            "500" in check.message and not names_a_crash(check.evidence)
            for check in result.checks
            if check.status == "failed"
        )
    )
    app: AppEvidence | None = shown(APP, result.evidence.get(APP))
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            exercises=exercises,
            marks=MARKS,
            words=STATUS_WORDS,
            run_words=RUN_WORDS,
            log=app.log if show_log and app is not None else "",
        )
    )
