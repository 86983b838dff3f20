"""Evidence and report data are typed: a saved results.json reads back as each exercise's dataclass, and a
field a template reads that the data lacks fails here (the exercises' partials, the report's timeline and
measurement, the class's index page).

saved-results.json was written by streamgrade before the evidence was typed (plain dicts then), from a real
recording of the reference solution on every exercise, browser included: the shape results.json kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import jinja2
import pytest

from grader.evidence import APP, AppEvidence, evidence_type, read, typed
from grader.excerpts import Transcript
from grader.exercises import NAMES, registry
from grader.exercises.bigfile.evidence import BigfileEvidence, TimedAgain
from grader.exercises.events.evidence import EventsEvidence, FramingProblem
from grader.exercises.openai.evidence import ChunkProblem, ClientSeen, OpenaiEvidence
from grader.exercises.responses.evidence import ResponsesEvidence
from grader.launch.sandbox import Protections
from grader.render import html
from grader.render.classreport import render_index
from grader.render.html import render_html
from grader.results import CheckResult, GradeResult, Measurement

SAVED = Path(__file__).parent / "saved-results.json"


def saved() -> dict:
    return json.loads(SAVED.read_text(encoding="utf-8"))


def with_checks(result: GradeResult) -> GradeResult:
    """One passed check per exercise: the report draws an exercise's evidence under its checks."""
    result.checks = [CheckResult(f"{name}.seen", name, "Seen", "passed", 1) for name in [APP, *result.exercises]]
    return result


def test_a_results_json_saved_before_the_evidence_was_typed_reads_back_as_each_dataclass():
    result = GradeResult.from_dict(saved())
    assert set(result.evidence) == {APP, *NAMES}
    for name, shown in result.evidence.items():
        assert type(shown) is evidence_type(name), name
    assert isinstance(result.evidence[APP], AppEvidence) and result.evidence[APP].log


def test_how_the_app_was_measured_reads_back_typed_and_none_where_nothing_was_recorded():
    result = GradeResult.from_dict(saved())
    assert isinstance(result.measurement, Measurement) and result.measurement.backend == "linux"
    assert result.to_dict()["measurement"] == saved()["measurement"]
    assert GradeResult.from_dict({**saved(), "measurement": {}}).measurement is None


def test_which_protections_held_reads_back_typed_and_none_where_no_app_was_started():
    held = {"level": "isolate", "in_force": ["a user of its own"], "not_in_force": []}
    result = GradeResult.from_dict({**saved(), "protections": held})
    assert result.protections == Protections(level="isolate", in_force=["a user of its own"], not_in_force=[])
    assert result.to_dict()["protections"] == held
    assert GradeResult.from_dict(saved()).protections is None  # saved with {}: no app was started


def test_the_evidence_is_written_back_in_the_shape_it_was_read():
    before = saved()["evidence"]
    # Exercise 4's copy of its first answer's status is no longer written (its dataclass computes it);
    # everything else is what the dicts held, key for key.
    del before["responses"]["learner"]
    assert GradeResult.from_dict(saved()).to_dict()["evidence"] == before


def test_a_field_renamed_in_the_json_fails_to_read_as_the_dataclass():
    data = saved()["evidence"]["chat"]
    data["prompts"] = data.pop("prompt")
    with pytest.raises(ValueError, match="prompt"):
        read("chat", data)


def test_a_result_whose_evidence_is_not_this_graders_still_loads_and_renders_without_it():
    data = saved()
    data["evidence"]["events"] = {"interval": "soon"}
    data["evidence"]["gone"] = {"anything": 1}  # an exercise this version no longer has
    result = with_checks(GradeResult.from_dict(data))
    assert result.evidence["events"] == {"interval": "soon"} and result.evidence["gone"] == {"anything": 1}
    assert result.to_dict()["evidence"]["events"] == {"interval": "soon"}  # nothing lost when written again
    page = render_html(result)
    events = page[page.index('<section id="events">') : page.index('<section id="responses">')]
    assert "Evidence:" not in events and "Evidence: when the tokens arrived" in page
    assert "saved in a form this version of streamgrade does not read" in events


def doctored(result: GradeResult) -> GradeResult:
    """The same evidence with what only a faulty app shows: a framing problem, a stream without [DONE], ..."""
    evidence = dict(result.evidence)
    events: EventsEvidence = evidence["events"]
    assert events.learner is not None and events.reference is not None
    lines = events.learner.transcript.lines
    marked = replace(lines[1], problem=True)
    longer = Transcript(
        lines=[lines[0], marked, *lines[2:]], total_bytes=100_000, shown_bytes=events.learner.transcript.shown_bytes
    )
    evidence["events"] = replace(
        events,
        learner=replace(
            events.learner,
            transcript=longer,
            problem=FramingProblem(offset=marked.offset, message="unknown field name 'Data'"),
            browser=replace(events.learner.browser, reconnected=False),
        ),
        reference=replace(events.reference, browser=replace(events.reference.browser, sent_back=None)),
    )
    openai: OpenaiEvidence = evidence["openai"]
    assert openai.learner is not None and openai.learner.client is not None
    evidence["openai"] = replace(
        openai,
        learner=replace(
            openai.learner,
            transcript=replace(openai.learner.transcript, total_bytes=100_000),
            problem=ChunkProblem(chunk=2, message="choices[0].delta is missing"),
            done=False,
            client=ClientSeen(arrivals=openai.learner.client.arrivals[:1], error="APIError: the stream ended early"),
        ),
    )
    bigfile: BigfileEvidence = evidence["bigfile"]
    assert bigfile.learner is not None
    evidence["bigfile"] = replace(
        bigfile,
        learner=replace(bigfile.learner, stopped_early="it sent nothing for 10 s", slow_memory=None, memory=None),
        reference_again=TimedAgain(received=2**24, rate=2.0**28, whole_file_seconds=1.0),
    )
    responses: ResponsesEvidence = evidence["responses"]
    first, second, *rest = responses.rows
    assert first.learner is not None and second.learner is not None
    evidence["responses"] = ResponsesEvidence(
        rows=[
            replace(first, learner=replace(first.learner, status=None, error="the connection was refused")),
            replace(second, learner=replace(second.learner, hex=True, more=True), reference=None),
            *rest,
        ]
    )
    return replace(result, evidence=evidence)


def reference_only(result: GradeResult) -> GradeResult:
    """The evidence of a grade where only the reference was recorded (the app did not answer, say)."""
    evidence = dict(result.evidence)
    for name in NAMES:
        shown = evidence[name]
        if isinstance(shown, ResponsesEvidence):
            evidence[name] = ResponsesEvidence(rows=[replace(row, learner=None) for row in shown.rows])
        else:
            evidence[name] = replace(shown, learner=None)
    return replace(result, evidence=evidence)


@cache
def variants() -> tuple[GradeResult, ...]:
    """The saved evidence as it is, doctored as a faulty app's, and with the reference's side alone."""
    drawn = with_checks(GradeResult.from_dict(saved()))
    drawn.protections = Protections(level="limits", in_force=["memory capped"], not_in_force=["isolation: needs root"])
    faulty = doctored(drawn)
    faulty.protections = Protections(level="a level the report has no words for")
    return drawn, faulty, reference_only(drawn)


def test_every_exercise_draws_its_evidence_from_the_saved_and_the_doctored_results():
    correct, faulty, alone = (render_html(result) for result in variants())
    for heading in [
        "Evidence: when the tokens arrived",
        "Evidence: the server's memory during the download",
        "Evidence: when the events arrived",
        "Evidence: what a browser's EventSource received",
        "Evidence: what each request was answered",
        "Evidence: when the tokens' chunks arrived",
        "Evidence: the stream your app sent, line by line",
    ]:
        assert heading in correct, heading
    for said in [
        "First framing problem, at byte",
        "<mark>",
        "did not reconnect",
        "no Last-Event-ID",
        "is not a chat.completion.chunk",
        "No <code>data: [DONE]</code> came",
        "It raised: APIError",
        "(stopped early)",
        "not measured",
        "timed again beside yours",
        "no answer: the connection was refused",
        "not recorded",
        "bytes in all",
    ]:
        assert said in faulty, said
    assert "Evidence: when the tokens arrived" in alone and "First framing problem" not in alone


# What the renderer binds to typed report data in the main template's timeline macro.
MACRO_VARIABLES = {"figure", "row", "mark", "tick"}
INDEX = "index.html.j2"
INDEX_VARIABLES = {"bin", "student", "row"}
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
STRING = re.compile(r"\"[^\"]*\"|'[^']*'")
ACCESS = re.compile(r"(?<![\w.])([a-z_]+)((?:\.[a-z_]+)+)")


def attribute_reads(source: str, variables: set[str] | None = None) -> list[tuple[int, str]]:
    """Where the template reads an attribute: (the offset just after its name, "variable.attribute")."""
    found = []
    for tag in TAG.finditer(source):
        code = STRING.sub(lambda literal: " " * len(literal.group()), tag.group())
        for access in ACCESS.finditer(code):
            variable = access.group(1)
            if variable == "loop" or (variables is not None and variable not in variables):
                continue
            offset = tag.start() + access.end(1)
            for name in access.group(2)[1:].split("."):
                offset += 1 + len(name)
                found.append((offset, f"{variable}.{name}"))
                variable = name
    return found


def partials() -> list[str]:
    return [name for name in (html.partial(exercise.name) for exercise in registry()) if name]


def every_read() -> list[tuple[str, int, str]]:
    reads = []
    for name in partials():
        reads += [(name, offset, said) for offset, said in attribute_reads(html.template_source(name))]
    main = html.template_source("report.html.j2")
    start, end = main.index("{% macro show_timeline"), main.index("{% endmacro %}")
    reads += [
        ("report.html.j2", offset, said)
        for offset, said in attribute_reads(main, MACRO_VARIABLES)
        if start < offset < end
    ]
    # How the app was run and measured, at the top of every report.
    reads += [
        ("report.html.j2", offset, said)
        for offset, said in attribute_reads(main, {"result"})
        if said.startswith(("measurement.", "protections."))
    ]
    # The class's page: its score chart, its students and its pass rates.
    reads += [(INDEX, offset, said) for offset, said in attribute_reads(html.template_source(INDEX), INDEX_VARIABLES)]
    return reads


def render(template: str) -> None:
    """Every variant through the renderer that uses ``template``."""
    if template == INDEX:
        correct, faulty, alone = variants()
        extra = replace(
            correct, checks=[*correct.checks, CheckResult("chat.more", "chat", "More", "passed", 1, bonus=True)]
        )
        render_index({"ann": extra, "bob": faulty, "cy": alone}, {"bob": "late"}, list(NAMES), "A class", "students")
    else:
        for result in variants():
            render_html(result)


def test_every_variant_renders_as_the_templates_are_written():
    for template in ("report.html.j2", INDEX):
        render(template)  # StrictUndefined: every field read is one the data has


def test_every_exercise_has_a_partial_that_reads_its_evidence():
    assert len(partials()) == len(NAMES)
    assert {name for name, _, _ in every_read()} == {*partials(), "report.html.j2", INDEX}


@pytest.fixture
def templates(monkeypatch):
    """Templates read through a patched ``template_source``: the compiled ones are forgotten before and after."""
    html.environment.cache_clear()
    yield monkeypatch
    html.environment.cache_clear()


@pytest.mark.parametrize(("template", "offset", "said"), every_read(), ids=lambda value: str(value))
def test_a_field_the_template_reads_and_the_data_lacks_fails_the_report(template, offset, said, templates):
    source = html.template_source(template)
    renamed = source[:offset] + "_renamed" + source[offset:]
    original = html.template_source
    templates.setattr(html, "template_source", lambda name: renamed if name == template else original(name))
    with pytest.raises(jinja2.UndefinedError, match="_renamed"):
        render(template)


def test_typed_evidence_is_read_back_unchanged():
    result = GradeResult.from_dict(saved())
    assert typed(result.evidence) == result.evidence
    assert GradeResult.from_dict(result.to_dict()).evidence == result.evidence
