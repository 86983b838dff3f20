"""What the report shows of the events exercise: when each event arrived, and the stream's transcript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader import sse
from grader.excerpts import ARRIVALS_CAP, LearnerAnswered, Transcript, transcript
from grader.exercises.events.recording import BrowserRecording
from grader.probes.disconnect import how_measured
from grader.recording import AppRecording
from grader.timing import arrival_at_offsets

# Ids shown per connection of the browser's EventSource (the page takes four).
BROWSER_IDS_CAP = 8


@dataclass(frozen=True, kw_only=True)
class BrowserSeen:
    """What a browser's EventSource received on each connection, and the Last-Event-ID it sent back."""

    first: list[str]  # the event ids of the first connection
    reconnected: bool
    sent_back: str | None
    then: list[str]  # the event ids after it reconnected


@dataclass(frozen=True, kw_only=True)
class FramingProblem:
    offset: int  # in bytes, where the transcript marks it
    message: str


@dataclass(frozen=True, kw_only=True)
class EventsSide:
    arrivals: list[float]  # when each event was complete, in seconds after the request
    transcript: Transcript
    problem: FramingProblem | None  # the stream's first framing problem
    browser: BrowserSeen | None = None  # None: no browser ran, or it could not do its part
    status: int | None = None  # None in results saved before it was kept


@dataclass(frozen=True, kw_only=True)
class EventsEvidence(LearnerAnswered):
    interval: float
    count: int
    learner: EventsSide | None
    reference: EventsSide | None


def browser_side(seen: BrowserRecording | None) -> BrowserSeen | None:
    """What the browser's EventSource received on each connection, and the Last-Event-ID it sent back.

    None when no browser ran or it could not do its part: the check's message says why.
    """
    if seen is None or seen.not_run or seen.problem or not seen.streams:
        return None
    ids = {
        n: [event.id or "(no id)" for event in seen.events if event.connection == n][:BROWSER_IDS_CAP] for n in (1, 2)
    }
    again = seen.streams[1].exchange.request_headers.get("last-event-id") if len(seen.streams) > 1 else None
    return BrowserSeen(first=ids[1], reconnected=len(seen.streams) > 1, sent_back=again, then=ids[2])


def side(app: AppRecording) -> EventsSide | None:
    if app.events is None:
        return None
    exchange = app.events.solo
    stream = sse.parse(exchange.body)
    problem = stream.first_problem or (stream.unfinished if exchange.error is None else None)
    ends = arrival_at_offsets(exchange.chunks, [event.end for event in stream.events])
    return EventsSide(
        status=exchange.status,
        arrivals=[round(at, 4) for at in ends[:ARRIVALS_CAP]],
        transcript=transcript(exchange.body, problem.offset if problem else None),
        problem=FramingProblem(offset=problem.offset, message=problem.message) if problem else None,
        browser=browser_side(app.events.browser),
    )


def evidence(app: AppRecording, reference: AppRecording) -> EventsEvidence | None:
    events = app.events or reference.events
    if events is None:
        return None
    return EventsEvidence(interval=events.interval, count=events.count, learner=side(app), reference=side(reference))


def measured(recording: Any) -> tuple[list[str], list[str]]:
    """How the CPU time after the clients left was measured: (exact, sampled) sentences."""
    return how_measured(recording.disconnect)
