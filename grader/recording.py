"""Recordings: what the probes observed, as plain data.

Probes fill these in; checks read them and nothing else. Times are seconds
from ``time.perf_counter_ns``: ``sent_at`` is absolute (comparable between
requests made in one run), chunk times are relative to ``sent_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Bodies the checks read (chat replies, event streams) are small; keep at
# most this much of any of them, so an app that streams without end can't
# fill the grader's memory.
BODY_CAP = 1024 * 1024


@dataclass
class Chunk:
    at: float  # seconds after the request was sent
    data: bytes


@dataclass
class Exchange:
    """One HTTP request and the response as it arrived."""

    method: str
    path: str  # with the query string, as a learner would type it after the host
    request_headers: dict[str, str] = field(default_factory=dict)
    sent_at: float = 0.0
    sent_wall: float = 0.0  # the same moment on the wall clock (time.time), to compare timestamps
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    received: int = 0  # body bytes received, kept or not
    truncated: bool = False  # more than BODY_CAP arrived; the rest was not kept
    ended_at: float | None = None  # seconds after sending when the body ended
    error: str | None = None  # why the exchange did not complete normally

    @property
    def body(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class StartRecording:
    ok: bool
    seconds: float
    message: str = ""
    log: str = ""
    exit_code: int | None = None


@dataclass
class ChatRecording:
    delay: float
    content: list[tuple[str, Exchange]]  # (prompt, exchange) pairs sent with delay=0
    solo_prompt: str
    solo: Exchange  # one stream alone on the server: timing evidence
    concurrent: list[Exchange]  # several streams at once, while the server is probed
    idle_latencies: list[float]  # /openapi.json answered before the streams
    busy_latencies: list[float]  # ... and while they ran
    validation: list[tuple[str, Exchange]]  # (delay value, exchange) for out-of-range delays


@dataclass
class MemoryTrace:
    reset_ok: bool  # VmHWM could be reset before the measurement
    before: int  # resident bytes at the start
    peak: int  # peak resident bytes over the measurement
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds, resident bytes)

    @property
    def growth(self) -> int:
        return self.peak - self.before


@dataclass
class Download:
    status: int | None
    headers: list[tuple[str, str]]
    received: int
    sha256: str
    seconds: float
    chunk_count: int
    largest_chunk: int
    memory: MemoryTrace | None
    stopped_early: str | None = None  # why the grader gave up before the end
    error: str | None = None

    def header(self, name: str) -> str | None:
        return Exchange("GET", "", headers=self.headers).header(name)


@dataclass
class RangeProbe:
    range_header: str
    expected: tuple[int, int] | None  # inclusive byte offsets, or None for 416
    expected_body: bytes
    exchange: Exchange


@dataclass
class BigfileRecording:
    file_name: str
    file_size: int
    file_sha256: str
    download: Download
    slow_read: Download
    slow_read_pause: float
    missing: Exchange
    ranges: list[RangeProbe]
    head: Exchange


@dataclass
class DisconnectRecording:
    streams: int
    events_before_disconnect: int
    window: float
    streaming_cpu: float  # server CPU seconds over one window while clients read
    quiet_cpu: float  # ... over one window after they left
    answers_after: bool  # the server still answered a request afterwards
    error: str | None = None


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
    validation: list[tuple[dict[str, str], Exchange]]
    # Recorded last, on the same server: a server this breaks can't spoil
    # the evidence above. None if that probe could not run.
    disconnect: DisconnectRecording | None = None


@dataclass
class AppRecording:
    label: str
    start: StartRecording
    chat: ChatRecording | None = None
    bigfile: BigfileRecording | None = None
    events: EventsRecording | None = None
    log: str = ""  # the server's output over the whole run (head and tail)
    probe_errors: dict[str, str] = field(default_factory=dict)  # exercise -> grader traceback
