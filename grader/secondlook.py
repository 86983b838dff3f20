"""A second recording of an exercise whose timing verdict a busy moment may have decided.

A check judged on timing or load (``@check(..., timed=True)``) can be
spoilt by the machine: a stall of a few hundred milliseconds bunches a
stream's tokens or holds the small requests that probe an event loop. Noise
only ever makes an app look worse, never better, and it rarely strikes the
same probe twice; a real fault shows every time. So before any verdict is
given, the timed checks are judged on both apps' recordings; an exercise
where one fails (for the learner's app or for the reference) is recorded
once more, both apps side by side. Its checks are then judged on the
second recording, and where its reference fails a check (the machine was
busy then), on the first (``GradingSession.judge``). What it costs: one exercise's probes
again, only when a timed check failed (a learner whose app really blocks
waits that long for the verdict).

Pure functions of recordings and check functions: the plugin does the
recording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grader.checkapi import CheckFailed
from grader.recording import AppRecording


@dataclass(frozen=True)
class Judge:
    """A check as the second look sees it: its id, parents, whether it is timed, and its function."""

    id: str
    depends: tuple[str, ...]
    timed: bool
    function: Callable[..., Any]
    arguments: tuple[str, ...]  # "app", and "reference" when it compares with it


def exercise_of(identifier: str) -> str:
    return identifier.split(".", 1)[0]


def outcomes(judges: Iterable[Judge], app: AppRecording, reference: AppRecording) -> dict[str, bool | None]:
    """Each check on ``app`` (beside ``reference``): True passed, False failed, None neither (skipped, unjudged)."""
    by_id = {judge.id: judge for judge in judges}
    known: dict[str, bool | None] = {}

    def outcome(identifier: str) -> bool | None:
        if identifier in known:
            return known[identifier]
        known[identifier] = None  # a cycle in depends judges nothing
        judge = by_id.get(identifier)
        if judge is None or not all(outcome(parent) for parent in judge.depends):
            return None
        values = {"app": app, "reference": reference}
        try:
            judge.function(**{name: values[name] for name in judge.arguments})
        except CheckFailed:
            known[identifier] = False
        except Exception:  # not applicable, not run, or a check that broke: the real run says which
            known[identifier] = None
        else:
            known[identifier] = True
        return known[identifier]

    for identifier in by_id:
        outcome(identifier)
    return known


def doubtful(judges: list[Judge], learner: AppRecording, reference: AppRecording) -> dict[str, list[str]]:
    """The timed checks that failed, their parents passed, each with whose recording failed it.

    A failed check maps to "your app", "the reference" or both: its exercise
    is recorded again, and the report says which check and whose recording
    asked for it.
    """
    timed = {judge.id for judge in judges if judge.timed}
    failed: dict[str, list[str]] = {}
    for whose, app in (("your app", learner), ("the reference", reference)):
        for identifier, passed in outcomes(judges, app, reference).items():
            if passed is False and identifier in timed:
                failed.setdefault(identifier, []).append(whose)
    return dict(sorted(failed.items()))


def exercises_of(identifiers: Iterable[str]) -> list[str]:
    return sorted({exercise_of(identifier) for identifier in identifiers})


def replace_exercises(first: AppRecording, second: AppRecording, exercises: Iterable[str]) -> AppRecording:
    """``first`` with what ``second`` recorded for ``exercises``: their recordings, crashes, errors and timings.

    The exercises' times run on from the end of the first recording: the
    learner waited for both.
    """
    names = set(exercises)
    offset = max(first.elapsed.values(), default=0.0)

    def ours(server: str) -> bool:
        return server.split("-", 1)[0] in names

    def keep(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in mapping.items() if not ours(name)}

    def taken(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in mapping.items() if ours(name)}

    return dataclasses.replace(
        first,
        recordings={**keep(first.recordings), **taken(second.recordings)},
        probe_errors={**keep(first.probe_errors), **taken(second.probe_errors)},
        crashes={**keep(first.crashes), **taken(second.crashes)},
        elapsed={**first.elapsed, **{name: round(offset + value, 2) for name, value in taken(second.elapsed).items()}},
        exits=first.exits + [said for said in second.exits if said not in first.exits],
        incidents=first.incidents + [said for said in second.incidents if said not in first.incidents],
        log="\n".join(filter(None, [first.log, second.log])),
    )
