"""What the events probes record."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.probes.disconnect import DisconnectRecording
from grader.recording import Exchange

# DisconnectRecording lives with the probe exercises 3 and 5 share; it is part of this recording too.
__all__ = ["DisconnectRecording", "EventsMore", "EventsRecording"]


@dataclass
class EventsMore:
    """What a second events server answered, beside the first."""

    default: Exchange  # ?count=2 with no interval: one default gap
    default_count: int
    accepted: list[tuple[dict[str, str], Exchange]]  # the ranges' ends: must be 200
    unexpected_ids: list[tuple[str, Exchange]]  # (Last-Event-ID, exchange) for ids never sent, with count=2


@dataclass
class BrowserEvent:
    """A message event as the page's EventSource dispatched it."""

    id: str  # event.lastEventId: the id the browser would send back on reconnecting
    data: str  # its data (capped)
    connection: int  # 1 on the first connection, 2 after the browser's first reconnection, ...
    at: float  # seconds after the page started


@dataclass
class BrowserStream:
    """One GET /events the browser made, relayed to the app (see exercises/events/sseproxy.py)."""

    exchange: Exchange  # as the app answered it; request_headers are the ones the browser sent
    browser_left: bool = False  # the browser closed the connection before the app ended the stream
    shortened_retry: int = 0  # retry: lines of the app's that the relay shortened


@dataclass
class BrowserRecording:
    """An EventSource in headless Chromium, on a page served beside the stream (see browser_probe.py)."""

    count: int  # the page asked for ?count=...
    interval: float
    retry_ms: int  # the wait before reconnecting that the relay asked the browser for
    not_run: str = ""  # why no browser ran (none was found): nothing to judge
    problem: str = ""  # what kept the browser from doing its part (it did not start or never loaded the page)
    ended: str = ""  # how the page ended ("complete", "closed", "ended twice"); "" when it never reported
    streams: list[BrowserStream] = field(default_factory=list)
    events: list[BrowserEvent] = field(default_factory=list)
    errors: int = 0  # error events the page saw: one each time a connection ended or failed
    seconds: float = 0.0  # from the browser's start to the end of the recording
    load_seconds: float | None = None  # from the browser's start until it asked for the page


@dataclass
class EventsRecording:
    interval: float
    count: int
    solo: Exchange
    concurrent: list[Exchange]
    idle_latencies: list[float]
    busy_latencies: list[float]
    resume_from: int
    resume_count: int
    resume: Exchange
    validation: list[tuple[dict[str, str], Exchange]]  # parameters that must be refused with 422
    concurrent_interval: float = 0.2
    concurrent_count: int = 0  # events each concurrent stream was asked for
    # Recorded on a second server at the same time (probes/events.py probe_events_more).
    more: EventsMore | None = None
    # Recorded last, on the same server: a server this breaks can't spoil
    # the evidence above. None if that probe could not run.
    disconnect: DisconnectRecording | None = None
    # A browser's EventSource on the second server, recorded beside the rest.
    browser: BrowserRecording | None = None
