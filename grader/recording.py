"""Recordings: what the probes observed, as plain data.

Probes fill these in; checks read them and nothing else. Times are seconds
from ``time.perf_counter_ns``: ``sent_at`` is absolute (comparable between
requests made in one run), chunk times are relative to ``sent_at``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.contract import REMEASURE_BYTES

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
    broken: bool = False  # the server closed the connection or broke HTTP mid-answer (a crash, usually)

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
class TimedReply:
    """A reply whose tokens are timed: sent with ``delay``, or with no delay parameter (None: the default)."""

    prompt: str  # what the reply should be (the default prompt when none was sent)
    delay: float | None
    exchange: Exchange
    prompt_sent: bool = True


@dataclass
class ChatRecording:
    delay: float  # the solo stream's delay, drawn per run
    content: list[tuple[str, Exchange]]  # (prompt, exchange) pairs sent with a tiny delay
    solo_prompt: str
    solo: Exchange  # one stream alone on the server: timing evidence
    concurrent: list[Exchange]  # several streams at once, while the server is probed
    idle_latencies: list[float]  # /openapi.json answered before the streams
    busy_latencies: list[float]  # ... and while they ran
    validation: list[tuple[str, Exchange]]  # (delay value, exchange) for delays that must be refused
    concurrent_delay: float = 0.2
    concurrent_prompt: str = ""  # what the concurrent streams were asked to send
    # Recorded on a second server at the same time (see probes/chat.py
    # probe_chat_more): a reply with no parameters at all, one at a second
    # delay drawn per run, and the allowed range's ends.
    paced: list[TimedReply] = field(default_factory=list)
    accepted: list[tuple[str, Exchange]] = field(default_factory=list)  # (delay value, exchange): must be 200

    def timed(self) -> list[TimedReply]:
        """Every reply whose pacing is judged: the solo stream first."""
        return [TimedReply(self.solo_prompt, self.delay, self.solo), *self.paced]


@dataclass
class MemoryTrace:
    reset_ok: bool  # VmHWM could be reset before the measurement
    before: int  # resident bytes at the start
    peak: int  # peak resident bytes over the measurement
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds, resident bytes)
    # Seconds between samples. Without a reset (reset_ok False) the peak is the
    # largest sample: a peak shorter than this can fall between two.
    sample_period: float = 0.02

    @property
    def exact(self) -> bool:
        """The peak is the kernel's, counted since the reset; else it is sampled."""
        return self.reset_ok

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
    broken: bool = False  # the server closed the connection or broke HTTP mid-answer

    def delivered(self, size: int) -> bool:
        """A 200 that delivered all ``size`` bytes and ended cleanly."""
        return self.status == 200 and self.received == size and self.error is None and self.stopped_early is None

    def header(self, name: str) -> str | None:
        return Exchange("GET", "", headers=self.headers).header(name)

    @property
    def rate(self) -> float:
        """Bytes a second over the download."""
        return self.received / max(self.seconds, 1e-6)

    def timed(self, wanted: int) -> bool:
        """Whether this download is a usable timing: a 200 that delivered ``wanted`` bytes unbroken."""
        return self.status == 200 and self.received >= wanted and self.error is None and self.stopped_early is None


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
    slow_read: Download
    slow_read_pause: float
    missing: Exchange
    ranges: list[RangeProbe]
    head: Exchange
    # The full-speed download, recorded after the rest (see probes/run.py).
    download: Download | None = None
    # The start of the reference's download (REMEASURE_BYTES), timed again
    # beside a slow full download when the reference was recorded earlier
    # (see probes/bigfile.py REMEASURE_FACTOR).
    reference_again: Download | None = None
    # Why the range requests were not sent (an app that does not offer
    # ranges), or "" when they were.
    ranges_skipped: str = ""
    # GET /bigfile on a second server started with BIGFILE_PATH unset, in a
    # folder holding a small file at the default path (its size and sha256).
    default_path: Exchange | None = None
    default_path_size: int = 0
    default_path_sha256: str = ""
    slow_read_first: int = 0  # bytes the slow reader takes before it pauses
    # GET /bigfile on a third server whose BIGFILE_PATH names a small file with
    # no suffix, whose type mimetypes can't guess (its name and sha256).
    untyped: Exchange | None = None
    untyped_name: str = ""
    untyped_sha256: str = ""

    def reference_timed_again(self) -> Download | None:
        """The second timing of the reference, if it is one a verdict can rest on."""
        again = self.reference_again
        return again if again is not None and again.timed(min(REMEASURE_BYTES, self.file_size)) else None


@dataclass
class DisconnectRecording:
    streams: int
    events_before_disconnect: int
    window: float
    streaming_cpu: float  # server CPU seconds over one window while clients read
    quiet_cpu: float  # ... over one window after they left
    answers_after: bool  # the server still answered a request afterwards
    error: str | None = None
    # Seconds: how far quiet_cpu may be from the truth (the meter's resolution; 0 for exact readings).
    cpu_uncertainty: float = 0.0
    # Streams that ended by themselves before the client left, and how
    # (nothing was left to stop: the disconnect was not exercised on them).
    ended_early: list[str] = field(default_factory=list)
    broken: bool = False  # one of them broke off (a crash, usually)
    refused: int | None = None  # the status of an endless stream answered with another status than 200
    interval: float = 0.0  # the interval the endless streams asked for
    # Wake-ups of the server's threads (context switches, see launch.measure.Meter.wakeups):
    # over idle_window before the streams opened, and over one window while
    # clients read and after they left.
    idle_window: float = 0.0
    idle_wakeups: int = 0
    streaming_wakeups: int = 0
    quiet_wakeups: int = 0


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
    """An EventSource in headless Chromium, on a page served beside the stream (see exercises/events/browser_probe.py)."""

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


@dataclass
class Crash:
    """An exception the app's server logged, reduced to the learner's own part of the traceback."""

    exception: str  # its last line: "NameError: name 'time' is not defined"
    file: str  # the file of the last frame in the learner's own code ("" when no frame is theirs)
    line: int
    traceback: list[str]  # the header, the learner's frames and the exception line
    count: int = 1  # how often the log shows it


@dataclass
class AppRecording:
    label: str
    start: StartRecording
    chat: ChatRecording | None = None
    bigfile: BigfileRecording | None = None
    events: EventsRecording | None = None
    log: str = ""  # the server's output over the whole run (head and tail)
    probe_errors: dict[str, str] = field(default_factory=dict)  # exercise -> grader traceback
    exits: list[str] = field(default_factory=list)  # servers that stopped by themselves, and how
    protections: dict = field(default_factory=dict)  # sandbox.Protections as a dict: what held for this app
    incidents: list[str] = field(default_factory=list)  # what the sandbox saw (a limit hit, processes left)
    backend: str = ""  # the launch backend that ran the app (grader.launch: "linux" or "portable")
    # Seconds from the start of the recording to the end of each exercise's last probe.
    elapsed: dict[str, float] = field(default_factory=dict)

    def unwritten(self) -> list[str]:
        """The exercises whose route answers 501 Not Implemented: the starter's placeholder, not yet replaced."""
        answers = {
            "chat": self.chat.solo.status if self.chat else None,
            "bigfile": self.bigfile.slow_read.status if self.bigfile else None,
            "events": self.events.solo.status if self.events else None,
        }
        return [name for name, status in answers.items() if status == 501]

    crashes: dict[str, list[Crash]] = field(default_factory=dict)  # server ("chat", "chat-more") -> what its log shows

    def crash(self, exercise: str) -> Crash | None:
        """The exception the exercise's server logged, preferring one raised in the learner's own code."""
        # The exercise's own server first, then its others ("chat-more"...).
        logged = [
            crash
            for server in sorted(self.crashes, key=lambda name: name != exercise)
            if server.split("-", 1)[0] == exercise
            for crash in self.crashes[server]
        ]
        return next((crash for crash in logged if crash.file), logged[0] if logged else None)


# -- saving a recording ------------------------------------------------------
# A batch records the reference once and hands it to every grading process.
# JSON rather than pickle: loading it must not be able to run code, whoever
# wrote the file.

_TYPES = {
    cls.__name__: cls
    for cls in (
        Chunk,
        Exchange,
        StartRecording,
        TimedReply,
        ChatRecording,
        MemoryTrace,
        Download,
        RangeProbe,
        BigfileRecording,
        DisconnectRecording,
        EventsMore,
        BrowserEvent,
        BrowserStream,
        BrowserRecording,
        EventsRecording,
        Crash,
        AppRecording,
    )
}


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def _decode(value: object) -> object:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        if "__tuple__" in value:
            return tuple(_decode(item) for item in value["__tuple__"])
        if "__type__" in value:
            cls = _TYPES[value["__type__"]]  # KeyError for anything else: never built
            return cls(**{key: _decode(item) for key, item in value.items() if key != "__type__"})
        return {key: _decode(item) for key, item in value.items()}
    return value


@dataclass
class Calibration:
    """A reference recording with what it was recorded for: later runs reuse its seed."""

    seed: int
    exercises: list[str]
    recording: AppRecording


def save_calibration(path: Path, calibration: Calibration) -> None:
    data = {
        "seed": calibration.seed,
        "exercises": calibration.exercises,
        "recording": _encode(calibration.recording),
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)


def load_calibration(path: Path) -> Calibration:
    data = json.loads(path.read_text(encoding="utf-8"))
    recording = _decode(data["recording"])
    if not isinstance(recording, AppRecording):
        raise ValueError("not a saved AppRecording")
    return Calibration(int(data["seed"]), [str(name) for name in data["exercises"]], recording)
