"""What the download probes record."""

from __future__ import annotations

from dataclasses import dataclass

from grader.exercises.bigfile.contract import REMEASURE_BYTES
from grader.recording import Exchange, MemoryTrace


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
    # The full download ran on a server of its own, beside the slow read
    # (recorded alone, see run.py), not after it on the same server.
    download_own_server: bool = False

    def reference_timed_again(self) -> Download | None:
        """The second timing of the reference, if it is one a verdict can rest on."""
        again = self.reference_again
        return again if again is not None and again.timed(min(REMEASURE_BYTES, self.file_size)) else None
