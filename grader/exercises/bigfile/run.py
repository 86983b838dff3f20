"""The download exercise's part of a recording run: the files it serves, its servers' environment, its probes.

One 256 MiB file with no newline byte, made once and cached, is served to
each app behind a link under a name picked per run; the second server starts
with BIGFILE_PATH unset, in a folder holding a small file at the default
path. The full downloads (heavy) run in the second phase, both apps at once.
Recorded alone (no other exercise's timing probes to disturb) and with no
memory limit shared by an app's servers (RunSettings.heavy_beside_light),
the full download needs no phase of its own: it runs beside the light part, on a
fourth server of its own (the server's memory is measured per server, and
the light part removes its served file to probe the missing-file answer),
so a save in watch mode waits for the longer of the two, not their sum.
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
# The full download's own server when the exercise is recorded alone
# (Exercise.overlap_servers), serving the same file behind a link of the same
# name in a folder of its own, which the light part never removes.
DOWNLOAD = "bigfile-download"
DOWNLOAD_FOLDER = "download"


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

    def download_link(self, label: str) -> Path:
        """What the full download's own server serves (the same name as the main server's link)."""
        link = self.served[label].link
        return link.parent / DOWNLOAD_FOLDER / link.name

    def start_folder(self, label: str) -> Path:
        return self.settings.folder(label) / "start"

    def data(self, label: str) -> list[Path]:
        return [self.folder]

    def env(self, label: str) -> Env:
        return {"BIGFILE_PATH": str(self.served[label].link)}

    def server_env(self, label: str, server: str) -> Env:
        if server == UNTYPED:
            return {"BIGFILE_PATH": str(self.untyped[label])}
        if server == DOWNLOAD:
            return {"BIGFILE_PATH": str(self.download_link(label))}
        return {"BIGFILE_PATH": None} if server == MORE else {}

    def server_folder(self, label: str, server: str) -> Path | None:
        return self.start_folder(label) if server == MORE else None

    async def served_file(self, label: str, link: Path | None = None) -> ServedFile:
        """The app's served file (or the same file behind ``link``), once the sample file is ready."""
        source, digest = await self.making_file
        return ServedFile(link or self.served[label].link, source, BIGFILE_SIZE, digest)

    async def close(self) -> None:
        await asyncio.gather(self.making_file, return_exceptions=True)


def run_of(ctx: ProbeContext) -> BigfileRun:
    assert isinstance(ctx.run, BigfileRun)
    return ctx.run


async def probe(ctx: ProbeContext, earlier: None) -> BigfileRecording:
    """Everything but the full download: light enough to run beside the timing probes.

    Recorded alone, the full download too, on its own server, beside the rest.
    """
    run = run_of(ctx)
    served = await run.served_file(ctx.label)
    full = asyncio.ensure_future(download_alone(ctx, run)) if DOWNLOAD in ctx.servers else None
    try:
        recording, default, untyped = await asyncio.gather(
            probe_bigfile_light(ctx.main.base_url, ctx.main.meter, served),
            probe_small_file(ctx.server("more").base_url),
            probe_small_file(ctx.server("untyped").base_url),
        )
    except BaseException:
        if full is not None:  # the light part failed or was cancelled: don't leave the download behind
            full.cancel()
            await asyncio.gather(full, return_exceptions=True)
        raise
    recording = dataclasses.replace(
        recording,
        default_path=default,
        default_path_size=DEFAULT_FILE_SIZE,
        default_path_sha256=run.default_sha256[ctx.label],
        untyped=untyped,
        untyped_name=run.untyped[ctx.label].name,
        untyped_sha256=run.untyped_sha256[ctx.label],
    )
    if full is None:
        return recording
    download, again = await full
    return dataclasses.replace(recording, download=download, reference_again=again, download_own_server=True)


async def download_alone(ctx: ProbeContext, run: BigfileRun) -> tuple[Download, Download | None]:
    """The full download on its own server (recorded alone), its file linked under the same name."""
    link = run.download_link(ctx.label)
    link.parent.mkdir(parents=True, exist_ok=True)
    (await run.served_file(ctx.label, link)).restore()
    return await full_download(ctx, run, ctx.servers[DOWNLOAD])


async def probe_download(ctx: ProbeContext, earlier: BigfileRecording) -> BigfileRecording:
    """The full-speed download, both apps at once (CPU-heavy, so after the timing probes).

    Recorded alone, it ran already, beside the light part (``probe``).
    """
    if earlier.download is not None:
        return earlier
    download, again = await full_download(ctx, run_of(ctx), ctx.main)
    return dataclasses.replace(earlier, download=download, reference_again=again)


async def full_download(ctx: ProbeContext, run: BigfileRun, server: RunningApp) -> tuple[Download, Download | None]:
    """The whole file from ``server`` at full speed; for the learner, the reference timed again when it is slow."""
    if ctx.is_reference:
        return await probe_full_download(server.base_url, server.meter, run.clock, is_reference=True), None
    return await download_judged_now(ctx, run, server)


async def reference_again(ctx: ProbeContext, run: BigfileRun) -> Download:
    """Start the reference's download server again and time a download from it, beside the learner's download."""
    run.clock.remeasuring = True
    server: RunningApp | None = None
    target = ctx.settings.reference_target
    assert target is not None
    try:
        # The download's own link when it has one: the light part may have removed the main one.
        env = {**run.env(ctx.label), **run.server_env(ctx.label, DOWNLOAD if DOWNLOAD in ctx.servers else ctx.name)}
        # Trusted, like the reference's first recording: no sandbox.
        server = await start_app_in_thread(target, env, ctx.settings.start_timeout, Policy(), ctx.data)
        return await probe_reference_again(server.base_url, server.meter, run.clock, BIGFILE_SIZE)
    except Exception as failure:  # a second opinion only: without it the recorded time stands
        return Download(None, [], 0, "", 0.0, 0, 0, None, error=f"the reference could not be timed again: {failure}")
    finally:
        run.clock.remeasuring = False
        if server is not None:
            await asyncio.to_thread(server.stop)


async def download_judged_now(
    ctx: ProbeContext, run: BigfileRun, server: RunningApp
) -> tuple[Download, Download | None]:
    """The learner's full download; when slow against a reference recorded earlier, the reference again beside it."""
    clock = run.clock
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
