"""Exercise 3: GET /events streams Server-Sent Events, resumable, and stops when the client leaves."""

from __future__ import annotations

from grader.exercises import Exercise, Probe, Step
from grader.exercises.events import evidence, probe, report, run, timed
from grader.exercises.events.recording import EventsRecording
from grader.probes.context import HEAVY, TIMING

TRY_IT = "curl -N 'http://127.0.0.1:8000/events?interval=0.5&count=4'"

EXERCISE = Exercise(
    name="events",
    title="Exercise 3: /events (exercises/03-events.md)",
    route="GET /events",
    page="exercises/03-events.md",
    recording=EventsRecording,
    # The disconnect runs last, on the same server (which has no other work
    # left then): CPU time is counted per process, so the downloads beside it
    # don't blur it, and a server it breaks spoils no other evidence.
    probes=(Probe(TIMING, probe.probe), Probe(HEAVY, probe.probe_last)),
    setup=run.EventsRun,
    answered=lambda recording: recording.solo.status,
    evidence=evidence.evidence,
    evidence_type=evidence.EventsEvidence,
    figures=report.figures,
    floor=probe.floor,
    timed=timed.timed,
    measured=evidence.measured,
    try_it=TRY_IT,
    steps={
        "events.headers": Step("the media type of your response", (1,)),
        "events.cache": Step("the headers your response sets"),
        "events.framing": Step("the newlines after each event", (1,)),
        "events.payload": Step("how the data line is made", (2,)),
        "events.count": Step("when your generator stops, and where seq starts"),
        "events.incremental": Step("when each event leaves: yield it as it is made", (1,)),
        "events.pacing": Step("when your generator waits: not before the first event", (5,)),
        "events.live-timestamps": Step("where the timestamp is taken", (3,)),
        "events.nonblocking": Step("how your generator waits: does the whole server wait with it?", (5,)),
        "events.resume": Step("the Last-Event-ID header: do you read it?", (4,)),
        "events.unexpected-id": Step("what your code does with a Last-Event-ID that is not a number", (4,)),
        "events.validation": Step("the declarations of interval and count"),
        "events.disconnect": Step("what your generator does when the client leaves", (5,)),
        "events.browser": Step(
            "the id: line of each event, and the Last-Event-ID header the browser sends back", (1, 4)
        ),
    },
)
