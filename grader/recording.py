"""Recordings: what the probes observed, as plain data.

Probes fill these in; checks read them and nothing else. Times are seconds
from ``time.perf_counter_ns``: ``sent_at`` is absolute (comparable between
requests made in one run), chunk times are relative to ``sent_at``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

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
    request_body: bytes = b""  # what was sent with it (a JSON body for a POST), capped by the probe that sent it
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
    # Each exercise's recording, by exercise name (grader.exercises): checks read it as ``app.<name>``.
    recordings: dict[str, Any] = field(default_factory=dict)
    log: str = ""  # the server's output over the whole run (head and tail)
    probe_errors: dict[str, str] = field(default_factory=dict)  # exercise -> grader traceback
    exits: list[str] = field(default_factory=list)  # servers that stopped by themselves, and how
    protections: dict = field(default_factory=dict)  # sandbox.Protections as a dict: what held for this app
    incidents: list[str] = field(default_factory=list)  # what the sandbox saw (a limit hit, processes left)
    backend: str = ""  # the launch backend that ran the app (grader.launch: "linux" or "portable")
    # Seconds from the start of the recording to the end of each exercise's last probe.
    elapsed: dict[str, float] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        """``app.chat``: an exercise's recording, None when it was not recorded."""
        from grader.exercises import NAMES  # the exercises are above this module: imported when used

        if name in NAMES:
            return self.__dict__.get("recordings", {}).get(name)
        raise AttributeError(name)

    def unwritten(self) -> list[str]:
        """The exercises whose route answers 501 Not Implemented: the starter's placeholder, not yet replaced."""
        from grader.exercises import registry

        return [
            exercise.name
            for exercise in registry()
            if exercise.name in self.recordings and exercise.answered(self.recordings[exercise.name]) == 501
        ]

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
# wrote the file. pydantic reads it back into the very types the probes
# wrote (each exercise's recording type from the registry), validating every
# field; bytes travel as base64.


@dataclass
class Calibration:
    """A reference recording with what it was recorded for: later runs reuse its seed."""

    seed: int
    exercises: list[str]
    recording: AppRecording


@cache
def _saved_model() -> type[Any]:
    """The saved file's shape: the recording without its exercises' part, and that part typed per exercise."""
    from pydantic import ConfigDict, create_model

    from grader.exercises import registry

    config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")  # bytes are not text
    fields: dict[str, Any] = {exercise.name: (exercise.recording | None, None) for exercise in registry()}
    recordings = create_model("SavedRecordings", __config__=config, **fields)
    return create_model(
        "SavedCalibration",
        __config__=config,
        seed=(int, ...),
        exercises=(list[str], ...),
        recording=(AppRecording, ...),
        recordings=(recordings, ...),
    )


def save_calibration(path: Path, calibration: Calibration) -> None:
    model = _saved_model()
    recording = calibration.recording
    saved = model(
        seed=calibration.seed,
        exercises=calibration.exercises,
        recording=dataclasses.replace(recording, recordings={}),
        recordings=model.model_fields["recordings"].annotation(**recording.recordings),
    )
    partial = path.with_name(path.name + ".partial")
    partial.write_text(saved.model_dump_json(), encoding="utf-8")
    partial.replace(path)


def load_calibration(path: Path) -> Calibration:
    """A saved calibration; ValueError (pydantic's ValidationError is one) for anything else."""
    saved = _saved_model().model_validate_json(path.read_text(encoding="utf-8"))
    recording = saved.recording
    recording.recordings = {name: value for name, value in saved.recordings if value is not None}
    return Calibration(saved.seed, list(saved.exercises), recording)
