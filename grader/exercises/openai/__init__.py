"""Exercise 5: POST /v1/chat/completions, an OpenAI-compatible chat stream.

Judged by real clients: the official ``openai`` package consumes the streams
(what its users' programs receive), and raw sockets time them the way
exercise 1's are timed (``probes.http``, ``checks._common``).
"""

from __future__ import annotations

from grader.exercises import Exercise, Probe, Step
from grader.exercises.openai import evidence, probe, report, timed
from grader.exercises.openai.recording import OpenaiRecording
from grader.probes.context import TIMING

# The request `streamgrade try openai` sends, and the checks' "Try it" command.
CURL = (
    "curl -N http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' -d "
    '\'{"model": "fake", "messages": [{"role": "user", "content": "one two three four"}], "stream": true, '
    '"stream_options": {"include_usage": true}, "delay": 0.5}\''
)

EXERCISE = Exercise(
    name="openai",
    title="Exercise 5: /v1/chat/completions (exercises/05-openai-stream.md)",
    route="POST /v1/chat/completions",
    page="exercises/05-openai-stream.md",
    recording=OpenaiRecording,
    # One phase: the raw streams, the official client and the disconnect each on a server of its own.
    probes=(Probe(TIMING, probe.probe),),
    answered=lambda recording: recording.solo.exchange.status,
    evidence=evidence.evidence,
    evidence_type=evidence.OpenaiEvidence,
    figures=report.figures,
    measured=evidence.measured,
    floor=probe.floor,
    timed=timed.timed,
    setup=probe.OpenaiRun,
    warm_up=probe.prefetching,
    servers=("", "more", "gone"),
    try_it=CURL,
    steps={
        "openai.headers": Step("what you return when the body says stream: true", (2,)),
        "openai.client": Step("each chunk's JSON, and what comes after the last token", (2, 4)),
        "openai.chunks": Step("where id and created are made, and which delta carries the role", (3,)),
        "openai.non-stream": Step("what you return when the body says stream: false"),
        "openai.malformed": Step("your pydantic models, and what happens with no user message", (1, 5)),
        "openai.incremental": Step("when each chunk leaves: yield it as it is made", (2,)),
        "openai.first-token": Step("when your generator waits: not before the first token", (6,)),
        "openai.pacing": Step("how long your generator waits, and which delay it reads", (6,)),
        "openai.nonblocking": Step("how your generator waits: does the whole server wait with it?", (6,)),
        "openai.disconnect": Step("who makes the tokens: the generator, or a task nobody stops", (7,)),
    },
)
