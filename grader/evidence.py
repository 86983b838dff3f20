"""Evidence for reports: what the learner's app and the reference did, side by side.

A pure function of the recordings, producing plain JSON-ready data that is
small and capped: renderers draw timelines and transcripts from it without
ever seeing a recording. Everything here that came from the learner's app is
untrusted text; renderers escape it, this module only bounds its size.
"""

from __future__ import annotations

from typing import Any

from grader.excerpts import LOG_CAP, TEXT_CAP, capped
from grader.exercises import registry
from grader.recording import AppRecording


def measurement(app: AppRecording) -> dict[str, Any]:
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
    return {"backend": app.backend, "exact": exact, "sampled": sampled}


def crashes(app: AppRecording) -> list[dict[str, Any]]:
    """The exceptions each exercise's server logged, with the learner's own frames only."""
    return [
        {
            "exercise": exercise,
            "exception": capped(crash.exception, TEXT_CAP),
            "file": crash.file,
            "line": crash.line,
            "count": crash.count,
            "traceback": [capped(line, TEXT_CAP) for line in crash.traceback],
        }
        for exercise, logged in app.crashes.items()
        for crash in logged
    ]


def collect(app: AppRecording, reference: AppRecording) -> dict[str, Any]:
    """Evidence per exercise: settings, then the learner's and the reference's side."""
    evidence: dict[str, Any] = {"app": {"log": capped(app.log or app.start.log, LOG_CAP), "crashes": crashes(app)}}
    for exercise in registry():
        shown = exercise.evidence(app, reference)
        if shown is not None:
            evidence[exercise.name] = shown
    return evidence
