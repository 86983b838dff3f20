"""Evidence for reports: what the learner's app and the reference did, side by side.

A pure function of the recordings, producing small, capped, typed data:
each exercise's ``evidence.py`` returns its own frozen dataclass (its
record's ``evidence_type``), and the app's is ``AppEvidence`` below.
Renderers draw timelines and transcripts from it without ever seeing a
recording, reading attributes, so a renamed field fails where it is read.
results.json holds it as JSON; ``read`` turns that back into the dataclass
(pydantic, from the type hints). Everything here that came from the
learner's app is untrusted text; renderers escape it, this module only
bounds its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from grader.excerpts import LOG_CAP, TEXT_CAP, capped
from grader.exercises import registry
from grader.launch.sandbox import Protections
from grader.recording import AppRecording
from grader.results import Measurement

if TYPE_CHECKING:
    from pydantic import TypeAdapter

# The evidence's key for what concerns the app as a whole (beside one key per exercise).
APP = "app"


@dataclass(frozen=True, kw_only=True)
class CrashShown:
    """An exception a server logged, with the learner's own frames only."""

    exercise: str  # the server whose log showed it ("chat", "chat-more")
    exception: str
    file: str  # the learner's file it was raised in ("" when no frame is theirs)
    line: int
    count: int
    traceback: list[str]


@dataclass(frozen=True, kw_only=True)
class AppEvidence:
    log: str  # what the server printed, capped
    crashes: list[CrashShown] = field(default_factory=list)


def measurement(app: AppRecording) -> Measurement:
    """Which of the app's figures are exact and which are sampled or coarse, in words for every report."""
    exact: list[str] = []
    sampled: list[str] = []
    for exercise in registry():
        recording = app.recordings.get(exercise.name)
        if exercise.measured is not None and recording is not None:
            said_exact, said_sampled = exercise.measured(recording)
            # Said once, however many exercises measured the same way (the disconnect's CPU time: 3 and 5).
            exact += [sentence for sentence in said_exact if sentence not in exact]
            sampled += [sentence for sentence in said_sampled if sentence not in sampled]
    return Measurement(backend=app.backend, exact=exact, sampled=sampled)


def protections(app: AppRecording) -> Protections | None:
    """Which protections held for the app (its recording keeps the sandbox's words as a dict); None if none said."""
    return Protections(**app.protections) if app.protections else None


def crashes(app: AppRecording) -> list[CrashShown]:
    """The exceptions each exercise's server logged, with the learner's own frames only."""
    return [
        CrashShown(
            exercise=exercise,
            exception=capped(crash.exception, TEXT_CAP),
            file=crash.file,
            line=crash.line,
            count=crash.count,
            traceback=[capped(line, TEXT_CAP) for line in crash.traceback],
        )
        for exercise, logged in app.crashes.items()
        for crash in logged
    ]


def collect(app: AppRecording, reference: AppRecording) -> dict[str, Any]:
    """Evidence per exercise (each its own dataclass), and the app's under ``APP``."""
    evidence: dict[str, Any] = {APP: AppEvidence(log=capped(app.log or app.start.log, LOG_CAP), crashes=crashes(app))}
    for exercise in registry():
        shown = exercise.evidence(app, reference)
        if shown is not None:
            evidence[exercise.name] = shown
    return evidence


def evidence_type(name: str) -> type | None:
    """The dataclass of the evidence under ``name``: the app's, or an exercise's (None for a name no longer known)."""
    if name == APP:
        return AppEvidence
    return next((exercise.evidence_type for exercise in registry() if exercise.name == name), None)


@cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter  # imported when evidence is read back, not by every grading

    return TypeAdapter(kind)


def read(name: str, value: object) -> Any:
    """The evidence under ``name`` as its dataclass, from results.json's JSON or already one.

    Raises ValueError (pydantic's ValidationError) when the JSON is not that
    dataclass's: a field renamed or missing, a wrong type. None when there is
    no evidence, or the name is no longer an exercise's.
    """
    kind = evidence_type(name)
    if kind is None or value is None or isinstance(value, kind):
        return value if kind is not None else None
    return _adapter(kind).validate_python(value)


def typed(evidence: dict[str, Any]) -> dict[str, Any]:
    """Every entry read as its dataclass; one that is not (a damaged or foreign file) is kept as it came.

    Kept, so that writing the result again loses nothing; renderers draw no
    evidence for it (see ``shown``). A saved result's scores never depend on
    its evidence, so they still load.
    """
    read_back: dict[str, Any] = {}
    for name, value in evidence.items():
        try:
            read_back[name] = read(name, value) if evidence_type(name) is not None else value
        except ValueError:
            read_back[name] = value
    return read_back


def shown(name: str, value: object) -> Any:
    """What a renderer may draw of the evidence under ``name``: its dataclass, or None if it is not one."""
    try:
        return read(name, value)
    except ValueError:
        return None
