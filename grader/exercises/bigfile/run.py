"""The download exercise's part of a recording run: the files it serves, its servers' environment, its probes.

One 256 MiB file with no newline byte, made once and cached, is served to
each app behind a link under a name picked per run; the second server starts
with BIGFILE_PATH unset, in a folder holding a small file at the default
path. The full downloads (heavy) run in the second phase, both apps at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path

from grader.exercises.bigfile.contract import BIGFILE_DEFAULT_PATH, BIGFILE_SIZE
from grader.exercises.bigfile.probe import (
    REMEASURE_FACTOR,
    DownloadClock,
    ServedFile,
    probe_bigfile_light,
    probe_full_download,
    probe_reference_again,
    probe_small_file,
)
from grader.exercises.bigfile.recording import BigfileRecording, Download
from grader.launch import Policy, RunningApp
from grader.probes.context import Env, ExerciseRun, ProbeContext, RunSettings, start_app_in_thread
from grader.samplefile import Sample, sample_folder, write_sample_file

# The file every app serves, made once and kept in the cache (grader.samplefile);
# `streamgrade sample-file` writes a smaller one where the kit's app looks by default.
SAMPLE = Sample(
    name=f"bigfile-{BIGFILE_SIZE // 2**20}MiB-no-newlines.bin",
    size=BIGFILE_SIZE,
    kit_path=BIGFILE_DEFAULT_PATH,
    variable="BIGFILE_PATH",
)
# A small file is enough to tell which file was served.
DEFAULT_FILE_SIZE = 32 * 1024
# Served under a name picked per run, so Content-Disposition can't be
# hard-coded. Always .csv: a type other than the usual fallback exposes a
# hard-coded application/octet-stream, and one that mimetypes knows keeps the
# verdict the same from run to run (a suffix it doesn't know would make
# FileResponse fall back to text/plain, where the contract says
# application/octet-stream, on some runs only).
SERVED_SUFFIX = ".csv"
MORE = "bigfile-more"
# The third server serves a small file whose name mimetypes can't guess a
# type for (no suffix at all, on any system), so the application/octet-stream
# fallback is seen (a type taken from guess_type alone is None there, and
# FileResponse left to itself said text/plain before Starlette 1.1). A server
# of its own because BIGFILE_PATH, which names the file, is fixed when a
# server starts.
UNTYPED = "bigfile-untyped"


class BigfileRun(ExerciseRun):
    """The served files, made before the servers start (the sample file in the background), and the shared clock."""

    def __init__(self, settings: RunSettings) -> None:
        super().__init__(settings)
        # The first draw of the run's seed: the same name for every app, and in a batch's children.
        link_name = f"download-{random.Random(settings.seed).randrange(16**4):04x}{SERVED_SUFFIX}"
        self.served = {
            label: ServedFile(settings.folder(label) / link_name, Path(), 0, "") for label in settings.labels
        }
        self.folder = sample_folder(settings.workdir)
        self.making_file = asyncio.ensure_future(asyncio.to_thread(SAMPLE.cached, self.folder))
        # Inside the folder each app already reads, so an isolated app sees it too.
        self.default_sha256 = {
            label: write_sample_file(self.start_folder(label) / BIGFILE_DEFAULT_PATH, DEFAULT_FILE_SIZE)
            for label in settings.labels
        }
        self.untyped = {label: served.link.with_name(served.link.stem) for label, served in self.served.items()}
        self.untyped_sha256 = {
            label: write_sample_file(path, DEFAULT_FILE_SIZE) for label, path in self.untyped.items()
        }
        self.clock = DownloadClock()
        earlier = settings.earlier_reference
        self.clock.reference_seconds = (
            earlier.bigfile.download.seconds if earlier and earlier.bigfile and earlier.bigfile.download else None
        )

    def start_folder(self, label: str) -> Path:
        return self.settings.folder(label) / "start"

    def data(self, label: str) -> list[Path]:
        return [self.folder]

    def env(self, label: str) -> Env:
        return {"BIGFILE_PATH": str(self.served[label].link)}

    def server_env(self, label: str, server: str) -> Env:
        if server == UNTYPED:
            return {"BIGFILE_PATH": str(self.untyped[label])}
        return {"BIGFILE_PATH": None} if server == MORE else {}

    def server_folder(self, label: str, server: str) -> Path | None:
        return self.start_folder(label) if server == MORE else None

    async def served_file(self, label: str) -> ServedFile:
        """The app's served file, once the sample file is ready."""
        source, digest = await self.making_file
        served = self.served[label]
        return ServedFile(served.link, source, BIGFILE_SIZE, digest)

    async def close(self) -> None:
        await asyncio.gather(self.making_file, return_exceptions=True)


def run_of(ctx: ProbeContext) -> BigfileRun:
    assert isinstance(ctx.run, BigfileRun)
    return ctx.run


async def probe(ctx: ProbeContext, earlier: None) -> BigfileRecording:
    """Everything but the full download: light enough to run beside the timing probes."""
    run = run_of(ctx)
    served = await run.served_file(ctx.label)
    recording, default, untyped = await asyncio.gather(
        probe_bigfile_light(ctx.main.base_url, ctx.main.meter, served),
        probe_small_file(ctx.server("more").base_url),
        probe_small_file(ctx.server("untyped").base_url),
    )
    return dataclasses.replace(
        recording,
        default_path=default,
        default_path_size=DEFAULT_FILE_SIZE,
        default_path_sha256=run.default_sha256[ctx.label],
        untyped=untyped,
        untyped_name=run.untyped[ctx.label].name,
        untyped_sha256=run.untyped_sha256[ctx.label],
    )


async def probe_download(ctx: ProbeContext, earlier: BigfileRecording) -> BigfileRecording:
    """The full-speed download, both apps at once (CPU-heavy, so after the timing probes)."""
    run = run_of(ctx)
    if ctx.is_reference:
        download = await probe_full_download(ctx.main.base_url, ctx.main.meter, run.clock, is_reference=True)
        return dataclasses.replace(earlier, download=download)
    download, again = await download_judged_now(ctx, run)
    return dataclasses.replace(earlier, download=download, reference_again=again)


async def reference_again(ctx: ProbeContext, run: BigfileRun) -> Download:
    """Start the reference's download server again and time a download from it, beside the learner's download."""
    run.clock.remeasuring = True
    server: RunningApp | None = None
    target = ctx.settings.reference_target
    assert target is not None
    try:
        env = run.env(ctx.label)
        # Trusted, like the reference's first recording: no sandbox.
        server = await start_app_in_thread(target, env, ctx.settings.start_timeout, Policy(), ctx.data)
        return await probe_reference_again(server.base_url, server.meter, run.clock, BIGFILE_SIZE)
    except Exception as failure:  # a second opinion only: without it the recorded time stands
        return Download(None, [], 0, "", 0.0, 0, 0, None, error=f"the reference could not be timed again: {failure}")
    finally:
        run.clock.remeasuring = False
        if server is not None:
            await asyncio.to_thread(server.stop)


async def download_judged_now(ctx: ProbeContext, run: BigfileRun) -> tuple[Download, Download | None]:
    """The learner's full download; when slow against a reference recorded earlier, the reference again beside it."""
    server, clock = ctx.main, run.clock
    again: Download | None = None
    learner = asyncio.ensure_future(probe_full_download(server.base_url, server.meter, clock, is_reference=False))
    try:
        settings = ctx.settings
        if settings.earlier_reference and settings.reference_target and clock.reference_seconds is not None:
            done, _ = await asyncio.wait({learner}, timeout=clock.reference_seconds * REMEASURE_FACTOR)
            if not done:
                again = await reference_again(ctx, run)
        return await learner, again
    finally:
        if not learner.done():  # cancelled from outside: stop the download with it
            learner.cancel()
            await asyncio.gather(learner, return_exceptions=True)
