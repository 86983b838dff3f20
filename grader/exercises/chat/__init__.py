"""Exercise 1: GET /chat-stream streams a reply token by token."""

from __future__ import annotations

from grader.exercises import Exercise, Probe, Step
from grader.exercises.chat import evidence, probe, report, timed
from grader.exercises.chat.recording import ChatRecording
from grader.probes.context import TIMING

TRY_IT = "curl -N 'http://127.0.0.1:8000/chat-stream?prompt=one%20two%20three%20four&delay=0.5'"

EXERCISE = Exercise(
    name="chat",
    title="Exercise 1: /chat-stream (exercises/01-chat-stream.md)",
    route="GET /chat-stream",
    page="exercises/01-chat-stream.md",
    recording=ChatRecording,
    probes=(Probe(TIMING, probe.probe),),
    answered=lambda recording: recording.solo.status,
    evidence=evidence.evidence,
    evidence_type=evidence.ChatEvidence,
    figures=report.figures,
    floor=probe.floor,
    timed=timed.timed,
    try_it=TRY_IT,
    # A nudge per check; the page hint numbers follow the page's "## Hints" list.
    steps={
        "chat.status": Step("what your route returns: a StreamingResponse over a generator", (1,)),
        "chat.media-type": Step("the media type your StreamingResponse declares", (1,)),
        "chat.content": Step("how you split the prompt into tokens: every space must survive"),
        "chat.incremental": Step("when each token leaves: yield it as soon as it is ready", (1, 6)),
        "chat.first-token": Step("where your generator waits: before the first token, or between tokens", (5,)),
        "chat.pacing": Step("how long your generator waits between two tokens", (2, 3)),
        "chat.nonblocking": Step("how your generator waits: does the whole server wait with it?", (2, 3)),
        "chat.validation": Step("the declaration of the delay parameter", (4,)),
    },
)
