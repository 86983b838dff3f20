"""Run the learner's app and the reference side by side and record both.

Each exercise gets a fresh server per app, so a bug that wedges one endpoint
can't spoil the evidence for another. Phases are ordered so that what
disturbs timing never overlaps it: the chat and events probes (light,
timing-sensitive) run together, the 256 MiB downloads (heavy) after them.
"""

from __future__ import annotations

import asyncio
import os
import random
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from grader.probes.bigfile import DownloadClock, ServedFile, probe_bigfile
from grader.probes.chat import probe_chat
from grader.probes.events import probe_events
from grader.recording import AppRecording, StartRecording
from grader.samplefile import write_sample_file
from grader.server import AppStartError, AppTarget, RunningApp, start_app

EXERCISES = ("chat", "bigfile", "events")
# The contract's file size for the memory bound.
BIGFILE_SIZE = 256 * 1024 * 1024
BIGFILE_CACHE_NAME = f"bigfile-{BIGFILE_SIZE // 2**20}MiB-no-newlines.bin"
# Served under a name picked per run, so the expected Content-Type and
# Content-Disposition can't be hard-coded.
SERVED_SUFFIXES = (".bin", ".csv", ".dat")


@dataclass
class Side:
    """One app under test (the learner's or the reference) and its servers."""

    label: str
    target: AppTarget
    recording: AppRecording
    servers: dict[str, RunningApp]
    served: ServedFile | None = None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamgrade"


def sample_file(workdir: Path) -> tuple[Path, str]:
    """The 256 MiB file with no newline byte, made once and kept in the cache."""
    for folder in (cache_dir(), workdir):
        path, digest_file = folder / BIGFILE_CACHE_NAME, folder / (BIGFILE_CACHE_NAME + ".sha256")
        try:
            if path.is_file() and path.stat().st_size == BIGFILE_SIZE and digest_file.is_file():
                return path, digest_file.read_text().strip()
            digest = write_sample_file(path, BIGFILE_SIZE)
            digest_file.write_text(digest)
            return path, digest
        except OSError:
            continue  # an unwritable cache: make it in the work folder instead
    raise OSError(f"could not write a {BIGFILE_SIZE // 2**20} MiB sample file in {workdir}")


async def start_side(label: str, target: AppTarget, exercises: list[str], workdir: Path, link_name: str) -> Side:
    folder = workdir / label
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / link_name
    env = {"BIGFILE_PATH": str(link)}
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(
        *(asyncio.to_thread(start_app, target, env) for _ in exercises), return_exceptions=True
    )
    seconds = asyncio.get_running_loop().time() - started
    servers = {name: app for name, app in zip(exercises, results) if isinstance(app, RunningApp)}
    failure = next((result for result in results if isinstance(result, BaseException)), None)
    if failure is None:
        start = StartRecording(ok=True, seconds=seconds)
    elif isinstance(failure, AppStartError):
        start = StartRecording(False, seconds, str(failure), failure.log, failure.exit_code)
    else:
        raise failure
    side = Side(label, target, AppRecording(label, start), servers)
    side.served = ServedFile(link, Path(), 0, "")
    if not start.ok:
        stop_side(side)
    return side


def stop_side(side: Side) -> None:
    logs = []
    for name, server in side.servers.items():
        server.stop()
        text = server.log.text()
        if text:
            logs.append(f"--- server for {name} ---\n{text}")
    side.servers.clear()
    if logs:
        side.recording.log = "\n".join(logs)


async def guarded(side: Side, exercise: str, probe: Callable[[], Awaitable[object]]) -> None:
    """Run one probe; a crash in it is the grader's fault, kept as evidence of an error."""
    if exercise not in side.servers:
        return
    try:
        setattr(side.recording, exercise, await probe())
    except Exception:
        side.recording.probe_errors[exercise] = traceback.format_exc()


async def record_both(
    learner: AppTarget, reference: AppTarget, exercises: list[str], workdir: Path, seed: int
) -> tuple[AppRecording, AppRecording]:
    rng = random.Random(seed)
    link_name = f"download-{rng.randrange(16**4):04x}{rng.choice(SERVED_SUFFIXES)}"
    making_file = asyncio.ensure_future(asyncio.to_thread(sample_file, workdir)) if "bigfile" in exercises else None
    sides = await asyncio.gather(
        start_side("learner", learner, exercises, workdir, link_name),
        start_side("reference", reference, exercises, workdir, link_name),
    )
    try:
        if not all(side.recording.start.ok for side in sides):
            # Every check depends on both apps running: nothing to probe.
            if making_file is not None:
                await making_file
            return sides[0].recording, sides[1].recording
        if making_file is not None:
            source, digest = await making_file
            for side in sides:
                side.served = ServedFile(side.served.link, source, BIGFILE_SIZE, digest)

        # Phase 1: the light, timing-sensitive probes, both apps at once.
        # Both apps get the same prompts and ids: each probe its own Random(seed).
        await asyncio.gather(
            *(guarded(side, "chat", lambda s=side: probe_chat(s.servers["chat"].base_url, random.Random(seed)))
              for side in sides),
            *(guarded(side, "events", lambda s=side: probe_events(
                s.servers["events"].base_url, s.servers["events"].pid, random.Random(seed)))
              for side in sides),
        )  # fmt: skip

        # Phase 2: the downloads. Both at once, so each sees the same machine.
        clock = DownloadClock()
        await asyncio.gather(
            *(
                guarded(
                    side, "bigfile",
                    lambda s=side: probe_bigfile(
                        s.servers["bigfile"].base_url, s.servers["bigfile"].pid, s.served, clock,
                        is_reference=s.label == "reference",
                    ),
                )  # fmt: skip
                for side in sides
            )
        )
    finally:
        for side in sides:
            stop_side(side)
    return sides[0].recording, sides[1].recording


def record_apps(
    learner: AppTarget, reference: AppTarget, exercises: list[str], workdir: Path, seed: int
) -> tuple[AppRecording, AppRecording]:
    return asyncio.run(record_both(learner, reference, exercises, workdir, seed))
