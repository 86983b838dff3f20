"""Exercise 5's evidence for reports: when the tokens arrived, what the stream held, what the client received.

Pure functions of the recordings; small, capped, JSON-ready data (see ``grader.evidence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.excerpts import ARRIVALS_CAP, TEXT_CAP, Arrival, LearnerAnswered, Transcript, capped, transcript
from grader.exercises.chat.evidence import TokenSide
from grader.exercises.openai.recording import OpenaiRecording
from grader.exercises.openai.stream import content_arrivals, read_stream
from grader.probes.disconnect import how_measured
from grader.recording import AppRecording


@dataclass(frozen=True, kw_only=True)
class ClientSeen:
    """What the official openai client handed its caller, and what it raised."""

    arrivals: list[Arrival]
    error: str | None


@dataclass(frozen=True, kw_only=True)
class ChunkProblem:
    chunk: int  # its place in the stream, from 1
    message: str


@dataclass(frozen=True, kw_only=True)
class OpenaiSide(TokenSide):
    """Exercise 1's kind of evidence (token arrivals, the loop's latency) and what the stream and the client held."""

    transcript: Transcript
    problem: ChunkProblem | None  # the first chunk that is not a chat.completion.chunk
    done: bool  # data: [DONE] came
    client: ClientSeen | None


@dataclass(frozen=True, kw_only=True)
class OpenaiEvidence(LearnerAnswered):
    delay: float
    reply: str
    learner: OpenaiSide | None
    reference: OpenaiSide | None


def side(openai: OpenaiRecording | None) -> OpenaiSide | None:
    if openai is None:
        return None
    solo = openai.solo.exchange
    stream = read_stream(solo.body)
    tokens = stream.content_chunks()
    times = content_arrivals(solo)
    problem = stream.first_problem
    client = openai.clients[0] if openai.clients else None
    return OpenaiSide(
        status=solo.status,  # an error status is no stream to draw (render.html.not_drawn)
        arrivals=[
            (round(at, 4), capped(chunk.content or "", TEXT_CAP))
            for at, chunk in list(zip(times, tokens, strict=True))[:ARRIVALS_CAP]
        ],
        idle_latencies=openai.idle_latencies,
        busy_latencies=openai.busy_latencies,
        transcript=transcript(solo.body, None),
        problem=ChunkProblem(chunk=stream.chunks.index(problem) + 1, message=problem.problem) if problem else None,
        done=stream.done,
        client=ClientSeen(
            arrivals=[
                (round(chunk.at, 4), capped(chunk.content, TEXT_CAP)) for chunk in client.chunks if chunk.content
            ][:ARRIVALS_CAP],
            error=capped(client.error, TEXT_CAP) if client.error else None,
        )
        if client
        else None,
    )


def evidence(app: AppRecording, reference: AppRecording) -> OpenaiEvidence | None:
    shown = app.openai or reference.openai
    if shown is None:
        return None
    return OpenaiEvidence(
        delay=shown.delay,
        reply=shown.solo.reply,
        learner=side(app.openai),
        reference=side(reference.openai),
    )


def measured(recording: Any) -> tuple[list[str], list[str]]:
    """How the CPU time after the clients left was measured: (exact, sampled) sentences."""
    return how_measured(recording.disconnect)
