"""The exercises: one folder each, and the registry the rest of the grader iterates.

Nothing outside ``grader/exercises/`` names an exercise: the scheduler, the
recording codec, the evidence, the renderers, ``grading.toml`` validation,
the hints and the bench all go through ``registry()``.

An exercise folder ``grader/exercises/<name>/`` holds:

- ``__init__.py``: ``EXERCISE = Exercise(...)``, the record below.
- ``probe.py``: its probes, ``async def (ctx: ProbeContext, earlier) -> Recording``
  (``grader.probes.context``); each returns the exercise's complete recording
  (``earlier`` is the previous phase's, None for the first probe). Shared
  primitives are in ``grader.probes.http`` (``record_exchange``, latency probes).
- ``recording.py``: its recording type, dataclasses (``Exchange`` from
  ``grader.recording`` for HTTP exchanges) with full type hints: a saved
  reference is written and read back by pydantic from those hints.
- ``test_<name>.py``: its checks, pytest functions of the ``app`` (and
  ``reference``) fixture decorated with ``grader.checkapi.check``; their ids
  are ``<name>.<something>`` and they read ``app.<name>`` (the recording).
- ``evidence.py``: ``evidence(learner, reference) -> <Name>Evidence | None``,
  what the report draws (small, capped: see ``grader.excerpts``), a frozen
  dataclass with full type hints and an ``answered`` property (the status the
  learner's drawn request got): results.json holds it as JSON and pydantic
  reads it back from those hints (``grader.evidence.read``).
- ``timed.py`` (for an exercise with timing checks): ``timed(base_url, rng)``,
  the streams those checks judge, recorded by its own probe code, each with
  where its pieces end (``TimedStream``): bench/run.py's timing precision.
- ``report.py`` (``figures(evidence) -> <Name>Figures``, a dataclass, charts
  from ``grader.render.charts``) and ``report.html.j2``: its part of the HTML
  report, given ``evidence`` and ``figures`` (list it in ``package-data``);
  the report renders with ``StrictUndefined``, so a field the template reads
  and the dataclass lacks fails tests/test_evidence_types.py.

Then add ``<name>`` to ``NAMES`` below (the order is the reports'), and the
package to ``pyproject.toml``'s ``packages``. Kit files: the page
``exercises/NN-<slug>.md``, the route in ``starter/app.py`` answering 501 and
in ``reference/app.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import random

    from grader.probes.context import ExerciseRun, ProbeContext, RunSettings
    from grader.recording import AppRecording, Exchange
    from grader.samplefile import Sample

# Every exercise, in the order reports show them. A name is a folder here, the
# prefix of its checks' ids, a value of --exercise and of grading.toml's
# `exercises`, and the CSV's "<name>_score" column.
NAMES: tuple[str, ...] = ("chat", "bigfile", "events", "responses", "openai")
FOLDER = Path(__file__).parent


class Evidence(Protocol):
    """What an exercise's ``evidence`` returns: a dataclass its ``evidence_type`` names."""

    @property
    def answered(self) -> int | None:
        """The status the learner's app answered to the request the evidence draws (None: not recorded)."""
        ...


@dataclass(frozen=True)
class Step:
    """A failed check's first hint: where to look, not the answer."""

    look_at: str
    page_hints: tuple[int, ...] = ()  # the numbers of the exercise page's hints that fit


@dataclass(frozen=True)
class Floor:
    """The waits an exercise's probes can't avoid (the contract's delays), in seconds: what bench/run.py adds up.

    ``timing`` and ``heavy`` in a full grading's two phases (exercises run side
    by side, so the longest counts in each), ``alone`` when it is graded alone.
    """

    timing: float = 0.0
    heavy: float = 0.0
    alone: float = 0.0


@dataclass(frozen=True)
class TimedStream:
    """A stream whose pieces' arrival times the exercise's timing checks judge, as its probe recorded it.

    What bench/run.py's timing precision compares with the moments the app
    handed each piece to its server.
    """

    exchange: Exchange
    ends: list[int]  # the byte offset just after each piece (a token, an event), ascending


@dataclass(frozen=True)
class Probe:
    """One probe of an exercise and the phase it runs in (``grader.probes.context.TIMING`` or ``HEAVY``)."""

    phase: int
    run: Callable[[ProbeContext, Any], Awaitable[Any]]


def _no_run(settings: RunSettings) -> ExerciseRun:
    from grader.probes.context import ExerciseRun

    return ExerciseRun(settings)


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str  # the report's heading: "Exercise 1: /chat-stream (exercises/01-chat-stream.md)"
    route: str  # what a learner's 501 came from: "GET /chat-stream"
    page: str  # "exercises/01-chat-stream.md", as in the learner's kit
    recording: type  # what its probes return (``app.<name>`` in its checks)
    probes: tuple[Probe, ...]  # in phase order; each gets the one before's recording
    # The status its route answered first: 501 means the starter's placeholder is still there.
    answered: Callable[[Any], int | None]
    evidence: Callable[[AppRecording, AppRecording], Evidence | None]
    evidence_type: type  # what ``evidence`` returns: results.json's evidence is read back as one
    steps: dict[str, Step]  # check id -> its first hint
    try_it: str  # the request `streamgrade try <name>` sends (a curl command)
    # What must run before a printed command, in the kit's folder ("": the app alone).
    serve: str = ""
    # Heavy exercises' servers start while the others' timing probes run; their first probe when they are up.
    heavy: bool = False
    # The servers per app, by suffix: "" is "<name>", "more" is "<name>-more" (probed beside it).
    servers: tuple[str, ...] = ("", "more")
    # More servers when its heavy work may run beside its light part (RunSettings.heavy_beside_light):
    # recorded alone, it needs no phase of its own, and runs on one of these.
    overlap_servers: tuple[str, ...] = ()
    # The large file its route serves: `streamgrade sample-file` writes the learner's copy,
    # `streamgrade try` serves it (the grader's when there is none) and shows a download's progress.
    sample: Sample | None = None
    setup: Callable[[RunSettings], ExerciseRun] = field(default=_no_run)
    floor: Callable[[], Floor] = field(default=Floor)
    # Its timed streams, recorded on one server (a base URL) by the probe code a grading runs, with the
    # run's random source: what bench/run.py's timing precision measures (None: nothing of it is timed).
    timed: Callable[[str, random.Random], Awaitable[list[TimedStream]]] | None = None
    # The HTML report's figures from its evidence, drawn by the folder's report.html.j2 (as ``figures``).
    figures: Callable[[Any], object] | None = None
    # How to measure what this exercise's recording holds: (exact, sampled) sentences for the report.
    measured: Callable[[Any], tuple[list[str], list[str]]] | None = None
    # Starts, in the background and once per process, work every grade of it does whatever the app
    # (exercise 5's import of the openai package, 0.3 s of CPU): called as soon as a grading
    # process knows it grades this exercise, so the work overlaps pytest's start, or the learner's
    # editing in watch mode, instead of the app's.
    warm_up: Callable[[], object] | None = None

    @property
    def checks(self) -> Path:
        return FOLDER / self.name / f"test_{self.name}.py"

    @property
    def checks_module(self) -> str:
        return f"{__name__}.{self.name}.test_{self.name}"

    def server_names(self, overlap: bool = False) -> list[str]:
        suffixes = self.servers + (self.overlap_servers if overlap else ())
        return [f"{self.name}-{suffix}" if suffix else self.name for suffix in suffixes]


@cache
def registry() -> tuple[Exercise, ...]:
    """Every exercise's record, in ``NAMES`` order (loaded on first use: the folders import the probes)."""
    exercises = tuple(importlib.import_module(f"{__name__}.{name}").EXERCISE for name in NAMES)
    for name, exercise in zip(NAMES, exercises, strict=True):
        if exercise.name != name:
            raise RuntimeError(f"grader/exercises/{name}/ declares an exercise named {exercise.name!r}")
    return exercises


def check_modules() -> list[str]:
    """Every module of checks: the app's start, then each exercise's."""
    return ["grader.checks.test_app", *(exercise.checks_module for exercise in registry())]


def get(name: str) -> Exercise:
    """The record of the exercise ``name`` (KeyError for a name that is none)."""
    for exercise in registry():
        if exercise.name == name:
            return exercise
    raise KeyError(name)


def samples() -> list[Sample]:
    """The sample files the exercises' routes serve, in the registry's order."""
    return [exercise.sample for exercise in registry() if exercise.sample is not None]


def warm_up(names: list[str] | tuple[str, ...]) -> None:
    """Start the ``warm_up`` work of the exercises ``names`` (see ``Exercise.warm_up``)."""
    for exercise in selected(names):
        if exercise.warm_up is not None:
            exercise.warm_up()


def selected(names: list[str] | tuple[str, ...]) -> list[Exercise]:
    """The records of ``names``, in the registry's order."""
    return [exercise for exercise in registry() if exercise.name in names]
