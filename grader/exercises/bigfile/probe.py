"""Probe GET /bigfile: bytes, headers, the server's memory, ranges, HEAD and a missing file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.exercises import Floor
from grader.exercises.bigfile.contract import REMEASURE_BYTES
from grader.exercises.bigfile.recording import BigfileRecording, Download, RangeProbe
from grader.exercises.bigfile.transfer import BodyReader
from grader.launch import Meter
from grader.probes.http import local_client, now, record_exchange
from grader.recording import Exchange, MemoryTrace

# A slow reader takes the first MiB, then stops reading for this long. An app
# that ignores back-pressure reads the rest of the file into memory in far
# less time (a 256 MiB file is read from the page cache in a fraction of a
# second); a correct one waits.
SLOW_READ_FIRST = 1024 * 1024
SLOW_READ_PAUSE = 0.5
# Give up on a download this many times slower than the reference's (plus a
# margin for start-up); without a reference time, after the hard limit.
GIVE_UP_FACTOR = 10
GIVE_UP_MARGIN = 2.0
HARD_LIMIT = 60.0
# A reference recorded earlier (a batch records it once, on a quiet machine)
# can't judge a download slowed by the batch's own load: at -j 4 on 2 cores
# sound apps ran up to 6.5 times slower than it, at -j 6 up to 12 times. A
# learner's download still running at half the give-up factor gets the
# reference downloaded again beside it, under the same load, to judge by
# (contract.REMEASURE_BYTES of it).
REMEASURE_FACTOR = GIVE_UP_FACTOR / 2


@dataclass
class ServedFile:
    """The file a server serves, behind a symlink the grader can remove and restore."""

    link: Path  # what BIGFILE_PATH names
    source: Path
    size: int
    sha256: str

    def remove(self) -> None:
        self.link.unlink(missing_ok=True)

    def restore(self) -> None:
        self.remove()
        self.link.symlink_to(self.source)


class DownloadClock:
    """Shares the reference's download time with the learner's probe, to give up early."""

    def __init__(self) -> None:
        self.reference_seconds: float | None = None
        self.remeasuring = False  # the reference is being downloaded again: don't give up meanwhile

    def give_up_after(self) -> float:
        if self.reference_seconds is None or self.remeasuring:
            return HARD_LIMIT
        return min(HARD_LIMIT, self.reference_seconds * GIVE_UP_FACTOR + GIVE_UP_MARGIN)


class MemorySampler:
    """Samples the resident memory of the app's processes in the background during a download."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.reset_ok = meter.reset_peak()
        first = meter.memory()
        self.started = now()
        self.before = first.rss
        self.samples: list[tuple[float, int]] = [(0.0, first.rss)]
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.meter.sample_period)
            try:
                self.samples.append((now() - self.started, self.meter.memory().rss))
            except OSError:
                return  # the server is gone

    def stop(self) -> None:
        self._task.cancel()

    async def finish(self) -> MemoryTrace:
        self.stop()
        await asyncio.gather(self._task, return_exceptions=True)
        peak = max(rss for _, rss in self.samples)
        if self.reset_ok:
            with contextlib.suppress(OSError):
                peak = max(peak, self.meter.memory().peak or 0)
        return MemoryTrace(self.reset_ok, self.before, peak, self.samples, self.meter.sample_period)


async def download(
    base_url: str,
    meter: Meter,
    *,
    give_up_after: Callable[[], float],
    pause_after: int | None = None,
    pause: float = 0.0,
) -> Download:
    """Download /bigfile, hashing it and watching the server's memory.

    The bytes are read in a thread of their own (``transfer.BodyReader``),
    the memory sampled here. Gives up once ``give_up_after()`` seconds have
    passed (asked again as the download goes, since the reference's time may
    arrive meanwhile). With ``pause_after``, read that many bytes, stop
    reading for ``pause`` seconds (the slow client), and hang up.
    """
    # The slow reader reads in the pieces the other clients read (64 KiB), so its pause starts where it did.
    read_size = 1024 * 1024 if pause_after is None else 64 * 1024
    reader = BodyReader(base_url, timeout=HARD_LIMIT, read_size=read_size, pause_after=pause_after, pause=pause)
    try:
        sampler: MemorySampler | None = MemorySampler(meter)
    except OSError:
        sampler = None  # the server is gone already: the download will say so
    started = now()
    finished = asyncio.wrap_future(reader.start())
    gave_up_at = None
    try:
        while not finished.done():
            await asyncio.wait({finished}, timeout=0.1)
            elapsed = now() - started
            if not finished.done() and gave_up_at is None and elapsed > give_up_after():
                reader.stop()
                gave_up_at = elapsed
    except asyncio.CancelledError:
        # This download was cancelled, not given up: stop reading and sampling too.
        reader.stop()
        if sampler is not None:
            sampler.stop()
        raise
    got = await finished
    got.seconds = now() - started
    if gave_up_at is not None:
        got.stopped_early = f"stopped after {gave_up_at:.1f} s with {got.received:,} bytes received"
    got.memory = await sampler.finish() if sampler else None
    return got


def range_probes(served: ServedFile) -> list[tuple[str, tuple[int, int] | None]]:
    size = served.size
    return [
        ("bytes=0-99", (0, 99)),
        (f"bytes={size // 2}-{size // 2 + 4095}", (size // 2, size // 2 + 4095)),
        (f"bytes={size - 1000}-", (size - 1000, size - 1)),
        ("bytes=-500", (size - 500, size - 1)),
        # An end past the file's end is clamped to its last byte (RFC 9110 14.1.2).
        (f"bytes={size - 100}-{size + 999}", (size - 100, size - 1)),
        (f"bytes={size + 10}-", None),
    ]


def read_slice(path: Path, first: int, last: int) -> bytes:
    with path.open("rb") as file:
        file.seek(first)
        return file.read(last - first + 1)


async def probe_bigfile_light(base_url: str, meter: Meter, served: ServedFile) -> BigfileRecording:
    """Everything but the full download: light enough to run beside the timing probes."""
    served.restore()
    async with local_client(base_url, HARD_LIMIT) as client:
        slow = await download(
            base_url,
            meter,
            give_up_after=lambda: SLOW_READ_PAUSE + 5,
            pause_after=SLOW_READ_FIRST,
            pause=SLOW_READ_PAUSE,
        )

        # An app that does not offer ranges sends the whole file to each
        # range request; with line iteration each costs a full read of the
        # file (about a second), for a check that fails on the header anyway.
        ranges: list[RangeProbe] = []
        offered = (slow.header("accept-ranges") or "").lower()
        ranges_skipped = ""
        if slow.status == 200 and offered != "bytes":
            ranges_skipped = f"GET /bigfile answered without Accept-Ranges: bytes (got {offered or '(none)'})"
        for header, expected in [] if ranges_skipped else range_probes(served):
            # Read one byte past what was asked: an app that ignores Range and
            # sends the whole file is cut off at once instead of read to the end.
            wanted = expected[1] - expected[0] + 1 if expected else 0
            exchange = await record_exchange(
                client, "/bigfile", headers={"Range": header}, timeout=20, stop_after_bytes=wanted + 1
            )
            body = read_slice(served.source, *expected) if expected else b""
            ranges.append(RangeProbe(header, expected, body, exchange))
        head = await record_exchange(client, "/bigfile", method="HEAD", timeout=10)

        served.remove()
        try:
            missing = await record_exchange(client, "/bigfile", timeout=10)
        finally:
            served.restore()

    return BigfileRecording(
        file_name=served.link.name,
        file_size=served.size,
        file_sha256=served.sha256,
        slow_read=slow,
        slow_read_pause=SLOW_READ_PAUSE,
        missing=missing,
        ranges=ranges,
        head=head,
        ranges_skipped=ranges_skipped,
        slow_read_first=SLOW_READ_FIRST,
    )


async def probe_small_file(base_url: str) -> Exchange:
    """GET /bigfile from a server that serves a small file: the default path's, or one whose type can't be guessed."""
    async with local_client(base_url, 10) as client:
        return await record_exchange(client, "/bigfile", timeout=10)


async def probe_reference_again(base_url: str, meter: Meter, clock: DownloadClock, file_size: int) -> Download:
    """Time the start of a download from the reference while a learner's download runs; move the clock to it."""
    again = await download(base_url, meter, give_up_after=lambda: HARD_LIMIT, pause_after=REMEASURE_BYTES)
    if again.timed(min(REMEASURE_BYTES, file_size)):
        # Slower than the recorded time means the machine is busier now: the
        # learner's download is judged against that. Faster changes nothing.
        whole_file = again.seconds * file_size / again.received
        clock.reference_seconds = max(clock.reference_seconds or 0.0, whole_file)
    return again


async def probe_full_download(base_url: str, meter: Meter, clock: DownloadClock, is_reference: bool) -> Download:
    """The whole file at full speed, with the server's memory traced: CPU-heavy, so on its own."""
    if is_reference:
        full = await download(base_url, meter, give_up_after=lambda: HARD_LIMIT)
        clock.reference_seconds = full.seconds
        return full
    return await download(base_url, meter, give_up_after=clock.give_up_after)


def floor() -> Floor:
    """The download exercise's only fixed wait: the slow reader's pause.

    Not the full download: its time is work (the app's and the grader's CPU
    for 256 MiB), not a wait the contract imposes, and it depends on the app
    and the machine. Graded alone it runs beside the slow reader, so on a
    quiet machine it is most of what a watch-mode save waits past this.
    """
    return Floor(heavy=SLOW_READ_PAUSE, alone=SLOW_READ_PAUSE)
