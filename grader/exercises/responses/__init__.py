"""Exercise 4: answers sent whole (text, HTML, a CSV download, bytes, a redirect), and one streamed."""

from __future__ import annotations

from grader.exercises import Exercise, Probe, Step
from grader.exercises.responses import evidence, probe
from grader.exercises.responses.recording import ResponsesRecording
from grader.probes.context import TIMING

TRY_IT = "curl -i 'http://127.0.0.1:8000/squares-stream.csv?rows=4'"

EXERCISE = Exercise(
    name="responses",
    title="Exercise 4: answers sent whole (exercises/04-responses.md)",
    route="GET /hello",
    page="exercises/04-responses.md",
    recording=ResponsesRecording,
    # A dozen small GETs with no wait in them: on a server of their own,
    # started while the timing probes run and probed beside them.
    probes=(Probe(TIMING, probe.probe),),
    heavy=True,
    servers=("",),
    answered=lambda recording: recording.hello[0].exchange.status if recording.hello else None,
    evidence=evidence.evidence,
    evidence_type=evidence.ResponsesEvidence,
    try_it=TRY_IT,
    # A nudge per check; the page hint numbers follow the page's "## Hints" list.
    steps={
        "responses.text": Step("what your route returns: a str is turned into JSON", (1, 2)),
        "responses.html": Step("the class of the response your route returns", (1, 2)),
        "responses.csv": Step("the media type and the lines of your CSV", (3,)),
        "responses.attachment": Step("the headers your CSV response sets", (3,)),
        "responses.bytes": Step("how the bytes leave your route: bare, or inside a Response", (4,)),
        "responses.redirect": Step("the status code and the address of your redirect", (5,)),
        "responses.length": Step("which class sends each answer: whole, or streamed from a generator", (6,)),
    },
)
