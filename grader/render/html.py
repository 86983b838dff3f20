"""The results as one self-contained HTML page: checks, and the evidence drawn.

A pure function of a GradeResult. The template (package data, loaded with
importlib.resources) has autoescape on and never marks anything safe: every
string that came from a learner's app is text, whatever it holds. Figures
are inline SVG whose coordinates are computed here; there is no script.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from importlib import resources
from typing import Any

import jinja2

from grader.render.code import spans
from grader.render.terminal import EXERCISE_TITLES, MARKS, ROUTES, serve_first
from grader.results import CheckResult, GradeResult
from grader.timing import median

# An exercise folder may hold this template: the report includes it with the exercise's evidence.
PARTIAL = "report.html.j2"
CHART_WIDTH = 640
LABEL_WIDTH = 90
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


def environment() -> jinja2.Environment:
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
    env.filters["code_spans"] = spans
    return env


def nice_step(span: float) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving 4 to 10 ticks."""
    raw = span / 6 if span > 0 else 0.1
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def axis(maximum: float, width: int = CHART_WIDTH - LABEL_WIDTH - 10) -> dict[str, Any]:
    maximum = max(maximum, 1e-3)
    step = nice_step(maximum)
    ticks = [round(step * index, 6) for index in range(int(maximum / step) + 1)]
    return {"max": maximum, "scale": width / maximum, "ticks": ticks, "left": LABEL_WIDTH}


def timeline(rows: list[tuple[str, list[float], list[str]]], expected: list[float], unit: str) -> dict[str, Any] | None:
    """Arrival bars, one row per app, on one time axis, with the expected moments dashed."""
    rows = [row for row in rows if row[1] is not None]
    if not rows:
        return None
    latest = max([*(max(times, default=0.0) for _, times, _ in rows), *expected, 0.1])
    scale = axis(latest * 1.08)
    drawn = []
    for index, (label, times, texts) in enumerate(rows):
        marks = [
            {"x": LABEL_WIDTH + at * scale["scale"], "at": at, "text": text}
            for at, text in zip(times, texts, strict=True)
        ]
        drawn.append({"label": label, "y": 20 + index * 40, "marks": marks, "count": len(times)})
    return {
        "axis": scale,
        "rows": drawn,
        "expected": [LABEL_WIDTH + at * scale["scale"] for at in expected],
        # Rows, then the time axis with its ticks, then the axis' name.
        "axis_y": 15 + 40 * len(drawn),
        "height": 56 + 40 * len(drawn),
        "unit": unit,
    }


def memory_chart(learner: dict | None, reference: dict | None, bound: int) -> dict[str, Any] | None:
    """Growth of resident memory over the download, both apps, against the bound; both axes labelled."""
    curves = [
        (name, data["memory"])
        for name, data in (("your app", learner), ("reference", reference))
        if data and data.get("memory")
    ]
    if not curves:
        return None
    latest = max(max((point[0] for point in memory["points"]), default=0.1) for _, memory in curves)
    highest = max([bound * 1.25, *(max((p[1] for p in memory["points"]), default=0) for _, memory in curves)])
    x_axis = axis(latest * 1.05)
    height, top, bottom = 210, 10, 170  # the plot's top and bottom; below: the time ticks and the axis' name
    y_scale = (bottom - top) / highest

    def y(value: float) -> float:
        return bottom - max(value, 0) * y_scale

    mib_step = nice_step(highest / 2**20)
    y_ticks = [
        {"mib": round(mib_step * index, 6), "y": y(mib_step * index * 2**20)}
        for index in range(int(highest / 2**20 / mib_step) + 1)
    ]
    lines = []
    for name, memory in curves:
        points = " ".join(
            f"{LABEL_WIDTH + at * x_axis['scale']:.1f},{y(growth):.1f}" for at, growth in memory["points"]
        )
        lines.append({"name": name, "points": points, "growth": memory["growth"], "css": name.replace(" ", "-")})
    return {
        "axis": x_axis,
        "lines": lines,
        "bound_y": y(bound),
        "bound": bound,
        "height": height,
        "base_y": y(0),
        "top": top,
        "y_ticks": y_ticks,
    }


def not_drawn(exercise: str, evidence: dict[str, Any]) -> str:
    """Why the learner's evidence is not drawn, "" when it is: an error status is no stream to draw.

    A route not written yet (the starter's 501, a 404) or one that answered an
    error sends a short error body; drawn as token arrivals or parsed as an
    event stream it would only mislead. The checks above say what went wrong.
    """
    status = (evidence.get("learner") or {}).get("status")
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


SIDES = (("your app", "learner"), ("reference", "reference"))


def exercise_view(result: GradeResult, exercise: str, checks: list[CheckResult]) -> dict[str, Any]:
    evidence = result.evidence.get(exercise) or {}
    subtotal = result.subtotals().get(exercise)
    # Every figure has a key, None when there is nothing to draw (an app
    # that did not start has no evidence at all).
    figures: dict[str, Any] = dict.fromkeys(
        ("timeline", "probes", "transcript", "problem", "memory", "learner", "reference", "browsers")
    )
    reason = not_drawn(exercise, evidence)
    if reason:
        evidence = {}  # the panels stay empty; the reason is said instead
    if exercise == "chat" and evidence:
        delay = evidence["delay"]
        rows = [
            (label, [a[0] for a in side["arrivals"]], [a[1] for a in side["arrivals"]])
            for label, side in (("your app", evidence["learner"]), ("reference", evidence["reference"]))
            if side
        ]
        tokens = len(evidence["reference"]["arrivals"]) if evidence.get("reference") else 0
        figures["timeline"] = timeline(rows, [index * delay for index in range(tokens)], "token")
        figures["probes"] = [
            {
                "name": label,
                "idle": median(side["idle_latencies"]),
                "median": median(side["busy_latencies"]),
                "slowest": max(side["busy_latencies"], default=0.0),
            }
            for label, side in (("your app", evidence["learner"]), ("reference", evidence["reference"]))
            if side
        ]
    if exercise == "events" and evidence:
        interval = evidence["interval"]
        rows = [
            (label, side["arrivals"], [f"event {n}" for n in range(1, len(side["arrivals"]) + 1)])
            for label, side in (("your app", evidence["learner"]), ("reference", evidence["reference"]))
            if side
        ]
        figures["timeline"] = timeline(rows, [index * interval for index in range(evidence["count"])], "event")
        figures["transcript"] = (evidence.get("learner") or {}).get("transcript")
        figures["problem"] = (evidence.get("learner") or {}).get("problem")
        # What a browser's EventSource received, for each app a browser ran for.
        seen = [(label, (evidence.get(side) or {}).get("browser")) for label, side in SIDES]
        figures["browsers"] = [(label, browser) for label, browser in seen if browser] or None
    if exercise == "bigfile" and evidence:
        figures["memory"] = memory_chart(evidence.get("learner"), evidence.get("reference"), evidence["bound"])
        figures["learner"] = evidence.get("learner")
        figures["reference"] = evidence.get("reference")
    return {
        "id": exercise,
        "title": EXERCISE_TITLES.get(exercise, exercise),
        "subtotal": subtotal,
        "checks": checks,
        "figures": figures,
        "evidence": evidence,
        "not_drawn": reason,
        "partial": partial(exercise) if evidence else "",
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
            "500" in check.message and "exception" not in check.evidence
            for check in result.checks
            if check.status == "failed"
        )
    )
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            exercises=exercises,
            marks=MARKS,
            words=STATUS_WORDS,
            run_words=RUN_WORDS,
            log=(result.evidence.get("app") or {}).get("log", "") if show_log else "",
        )
    )
