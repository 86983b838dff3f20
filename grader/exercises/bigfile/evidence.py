"""What the report shows of the download exercise: the download's time and speed, the server's memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.excerpts import LearnerAnswered, MemoryCurve, memory_curve
from grader.exercises.bigfile.contract import MEMORY_BOUND
from grader.recording import AppRecording


@dataclass(frozen=True, kw_only=True)
class DownloadSide:
    """One app's download of the whole file, and its memory then and beside a slow client."""

    seconds: float
    received: int  # bytes
    rate: float  # bytes per second
    largest_chunk: int  # the most bytes one read of the connection got
    stopped_early: str | None  # why the grader gave up before the end
    memory: MemoryCurve | None
    slow_memory: MemoryCurve | None
    status: int | None = None  # None in results saved before it was kept


@dataclass(frozen=True, kw_only=True)
class TimedAgain:
    """The reference downloaded again beside a slow download (a batch's reference is recorded earlier)."""

    received: int
    rate: float
    whole_file_seconds: float


@dataclass(frozen=True, kw_only=True)
class BigfileEvidence(LearnerAnswered):
    bound: int  # the memory growth allowed, in bytes
    size: int  # the file's, in bytes
    slow_read_pause: float
    learner: DownloadSide | None
    reference: DownloadSide | None
    reference_again: TimedAgain | None = None


def side(app: AppRecording) -> DownloadSide | None:
    if app.bigfile is None:
        return None
    download = app.bigfile.download
    if download is None:
        return None
    return DownloadSide(
        status=download.status,
        seconds=round(download.seconds, 3),
        received=download.received,
        rate=download.rate,
        largest_chunk=download.largest_chunk,
        stopped_early=download.stopped_early,
        memory=memory_curve(download.memory),
        slow_memory=memory_curve(app.bigfile.slow_read.memory),
    )


def reference_again(app: AppRecording) -> TimedAgain | None:
    again = app.bigfile.reference_timed_again() if app.bigfile else None
    if again is None:
        return None  # no second timing, or none the check could use
    return TimedAgain(
        received=again.received,
        rate=again.rate,
        whole_file_seconds=round(app.bigfile.file_size / again.rate, 3),
    )


def evidence(app: AppRecording, reference: AppRecording) -> BigfileEvidence | None:
    bigfile = app.bigfile or reference.bigfile
    if bigfile is None:
        return None
    return BigfileEvidence(
        bound=MEMORY_BOUND,
        size=bigfile.file_size,
        slow_read_pause=bigfile.slow_read_pause,
        learner=side(app),
        reference=side(reference),
        reference_again=reference_again(app),
    )


def measured(recording: Any) -> tuple[list[str], list[str]]:
    """How the memory peaks were measured: (exact, sampled) sentences."""
    traces = [download.memory for download in (recording.download, recording.slow_read) if download and download.memory]
    if any(not trace.exact for trace in traces):
        period = max(trace.sample_period for trace in traces)
        return [], [
            f"memory peaks: the largest of samples taken every {period * 1000:g} ms over the app's "
            "processes (no peak the kernel keeps could be reset here; a shorter peak can fall between "
            "two samples)"
        ]
    if traces:
        return ["memory peaks: the kernel's own peak over the app's processes, reset before each download"], []
    return [], []
