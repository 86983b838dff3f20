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
import threading
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.contract import BIGFILE_DEFAULT_PATH, BIGFILE_SIZE
from grader.exercises.bigfile.probe import (
    REMEASURE_FACTOR,
    DownloadClock,
    ServedFile,
    probe_bigfile_light,
    probe_full_download,
    probe_reference_again,
    probe_small_file,
)
from grader.exercises.chat.probe import probe_chat, probe_chat_more
from grader.exercises.events.browser_probe import BrowserSession
from grader.exercises.events.probe import probe_disconnect, probe_events, probe_events_more
from grader.launch import (
    DEFAULT_START_TIMEOUT,
    AppStartError,
    AppTarget,
    Policy,
    RunningApp,
    start_app,
)
from grader.recording import AppRecording, BigfileRecording, ChatRecording, Download, EventsRecording, StartRecording
from grader.samplefile import verified_sample_file, write_sample_file
from grader.tracebacks import crashes

EXERCISES = ("chat", "bigfile", "events")
# Exercises whose defaults, range ends and second timing are probed on a
# second server beside the first (probe_chat_more, probe_events_more): a
# default interval of 1 s costs one gap there, not a second on the
# critical path.
SECOND_SERVER = {"chat": "chat-more", "events": "events-more", "bigfile": "bigfile-more"}
# The download's third server serves a small file whose name mimetypes can't
# guess a type for (no suffix at all, on any system), so the
# application/octet-stream fallback is seen (a type taken from guess_type
# alone is None there, and FileResponse left to itself said text/plain before
# Starlette 1.1). A server of its own because BIGFILE_PATH, which
# names the file, is fixed when a server starts.
UNTYPED_SERVER = "bigfile-untyped"
# The download's second server starts with BIGFILE_PATH unset, in a folder
# holding a small file at the default path (a small file is enough to tell
# which file was served).
DEFAULT_FILE_SIZE = 32 * 1024
BIGFILE_CACHE_NAME = f"bigfile-{BIGFILE_SIZE // 2**20}MiB-no-newlines.bin"
# Served under a name picked per run, so Content-Disposition can't be
# hard-coded. Always .csv: a type other than the usual fallback exposes a
# hard-coded application/octet-stream, and one that mimetypes knows keeps the
# verdict the same from run to run (the fallback for a name it doesn't know
# is probed on every run, on UNTYPED_SERVER).
SERVED_SUFFIX = ".csv"


@dataclass
class Side:
    """One app under test (the learner's or the reference) and its servers."""

    label: str
    target: AppTarget
    served: ServedFile
    recording: AppRecording
    policy: Policy = field(default_factory=Policy)
    # Where the download's second server starts: it holds the small file at the default path.
    start_folder: Path = Path()
    default_sha256: str = ""
    # What the download's third server serves: a small file with no suffix (UNTYPED_SERVER).
    untyped: Path = Path()
    untyped_sha256: str = ""
    servers: dict[str, RunningApp] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    began: float = 0.0  # when its recording started, on the event loop's clock

    @property
    def started(self) -> bool:
        return self.recording.start.ok


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamgrade"


def sample_folder(workdir: Path) -> Path:
    """Where the sample file lives: the cache, or the work folder when the cache can't be written.

    Chosen before the servers start: an isolated app sees this folder (read only) and no other.
    """
    for folder in (cache_dir(), workdir / "sample"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise OSError(f"could not make a folder for the {BIGFILE_SIZE // 2**20} MiB sample file in {workdir}")


def sample_file(folder: Path) -> tuple[Path, str]:
    """The 256 MiB file with no newline byte, made once and kept, and checked before each use."""
    path = folder / BIGFILE_CACHE_NAME
    return path, verified_sample_file(path, BIGFILE_SIZE)


async def start_servers(side: Side, exercises: list[str], start_timeout: float, data: list[Path]) -> None:
    """Start one server per exercise; any failure is the app's start failure.

    ``data``: the folders the app reads the served file from (all an isolated app sees besides its own).
    """
    env: dict[str, str | None] = {"BIGFILE_PATH": str(side.served.link)}
    unset: dict[str, str | None] = {"BIGFILE_PATH": None}
    untyped: dict[str, str | None] = {"BIGFILE_PATH": str(side.untyped)}
    clock = asyncio.get_running_loop().time
    started = clock()
    results = await asyncio.gather(
        *(
            start_app_in_thread(side.target, unset, start_timeout, side.policy, data, side.start_folder)
            if name == SECOND_SERVER["bigfile"]
            else start_app_in_thread(
                side.target, untyped if name == UNTYPED_SERVER else env, start_timeout, side.policy, data
            )
            for name in exercises
        ),
        return_exceptions=True,
    )
    side.recording.start.seconds = max(side.recording.start.seconds, clock() - started)
    for name, result in zip(exercises, results, strict=True):
        if isinstance(result, RunningApp):
            side.servers[name] = result
    failure = next((result for result in results if isinstance(result, BaseException)), None)
    if isinstance(failure, AppStartError):
        if failure.protections is not None:
            side.recording.protections = failure.protections.to_dict()
        side.recording.start = StartRecording(
            False, side.recording.start.seconds, str(failure), failure.log, failure.exit_code
        )
        stop_side(side)
    elif failure is not None:
        stop_side(side)
        raise failure


def stop_side(side: Side) -> None:
    servers = list(side.servers.items())
    for name, server in servers:
        code = server.process.poll()
        if code is not None:
            side.recording.exits.append(f"the server for {name} exited with code {code} while it was being tested")
    # Side by side: each stop sweeps /proc for what its server started, which
    # takes a while on a busy machine, and it is on the way to every verdict.
    with ThreadPoolExecutor(max_workers=max(1, len(servers))) as pool:
        list(pool.map(lambda server: server.stop(), [server for _, server in servers]))
    for name, server in servers:
        side.recording.protections = server.protections.to_dict()
        side.recording.backend = server.backend
        side.recording.incidents += [said for said in server.incidents if said not in side.recording.incidents]
        text = server.log.text()
        if text:
            side.logs.append(f"--- server for {name} ---\n{text}")
            # Per server: a crash in one exercise's servers is named by that exercise's checks only.
            side.recording.crashes[name] = crashes(text)
    side.servers.clear()
    side.recording.log = "\n".join(side.logs)


async def guarded(
    side: Side, exercise: str, probe: Callable[[RunningApp], Awaitable[object]], keep: Callable[[object], None]
) -> None:
    """Run one probe and keep its recording; a crash in it is the grader's, kept as an error."""
    server = side.servers.get(exercise)
    if server is None or exercise in side.recording.probe_errors:
        return
    try:
        keep(await probe(server))
    except Exception:
        side.recording.probe_errors[exercise] = traceback.format_exc()
    finally:
        note_elapsed(side, exercise)


def note_elapsed(side: Side, exercise: str) -> None:
    """The exercise's probes have run until now (the latest of its probes counts)."""
    ended = asyncio.get_running_loop().time() - side.began
    side.recording.elapsed[exercise] = round(max(ended, side.recording.elapsed.get(exercise, 0.0)), 2)


def keeper(side: Side, exercise: str) -> Callable[[object], None]:
    return lambda recording: setattr(side.recording, exercise, recording)


def keep_download(side: Side) -> Callable[[object], None]:
    def keep(recording: object) -> None:
        if side.recording.bigfile is not None:
            side.recording.bigfile.download = recording

    return keep


def keep_disconnect(side: Side) -> Callable[[object], None]:
    def keep(recording: object) -> None:
        if side.recording.events is not None:
            side.recording.events.disconnect = recording

    return keep


async def start_app_in_thread(
    target: AppTarget,
    env: dict[str, str | None],
    start_timeout: float,
    policy: Policy,
    data: list[Path],
    workdir: Path | None = None,
) -> RunningApp:
    """``start_app`` in a worker thread; a server that comes up after this was cancelled is stopped, not leaked."""
    lock = threading.Lock()
    state: dict[str, object] = {"cancelled": False, "app": None}

    def start() -> RunningApp:
        app = start_app(target, env, start_timeout, policy, data, workdir)
        with lock:
            abandoned = state["cancelled"]
            state["app"] = app
        if abandoned:
            app.stop()
        return app

    try:
        return await asyncio.to_thread(start)
    except asyncio.CancelledError:
        with lock:
            state["cancelled"] = True
            app = state["app"]
        if isinstance(app, RunningApp):
            app.stop()
        raise


async def reference_again(
    target: AppTarget, side: Side, clock: DownloadClock, start_timeout: float, data: list[Path]
) -> Download:
    """Start the reference's download server again and time a download from it, beside ``side``'s download."""
    clock.remeasuring = True
    server = None
    try:
        env = {"BIGFILE_PATH": str(side.served.link)}
        # Trusted, like the reference's first recording: no sandbox.
        server = await start_app_in_thread(target, env, start_timeout, Policy(), data)
        return await probe_reference_again(server.base_url, server.meter, clock, side.served.size)
    except Exception as failure:  # a second opinion only: without it the recorded time stands
        return Download(None, [], 0, "", 0.0, 0, 0, None, error=f"the reference could not be timed again: {failure}")
    finally:
        clock.remeasuring = False
        if server is not None:
            await asyncio.to_thread(server.stop)


async def download_judged_now(
    side: Side,
    server: RunningApp,
    clock: DownloadClock,
    again: AppTarget | None,
    start_timeout: float,
    data: list[Path],
) -> Download:
    """The learner's full download; when slow against a reference recorded earlier, the reference again beside it."""
    learner = asyncio.ensure_future(probe_full_download(server.base_url, server.meter, clock, is_reference=False))
    try:
        if again is not None and clock.reference_seconds is not None and side.recording.bigfile is not None:
            done, _ = await asyncio.wait({learner}, timeout=clock.reference_seconds * REMEASURE_FACTOR)
            if not done:
                side.recording.bigfile.reference_again = await reference_again(again, side, clock, start_timeout, data)
        return await learner
    finally:
        if not learner.done():  # cancelled from outside: stop the download with it
            learner.cancel()
            await asyncio.gather(learner, return_exceptions=True)


async def record_sides(
    targets: dict[str, AppTarget],
    exercises: list[str],
    workdir: Path,
    seed: int,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    reference_seconds: float | None = None,
    policy: Policy | None = None,
    reference_target: AppTarget | None = None,
) -> dict[str, AppRecording]:
    """Record each app in ``targets`` (label -> target), all probed at the same time.

    The label "reference" marks the app whose download time sets when the
    others' downloads are given up on; ``reference_seconds`` gives that time
    when the reference was recorded earlier (a batch records it once), and
    ``reference_target`` the reference app to download from again when a
    download runs slow against it (see bigfile.REMEASURE_FACTOR).
    ``policy`` is the sandbox for every app but the reference (trusted, and
    calibrating in the conditions a learner's machine has).
    """
    rng = random.Random(seed)
    link_name = f"download-{rng.randrange(16**4):04x}{SERVED_SUFFIX}"
    sides = []
    for label, target in targets.items():
        (workdir / label).mkdir(parents=True, exist_ok=True)
        served = ServedFile(workdir / label / link_name, Path(), 0, "")
        side_policy = Policy() if label == "reference" else (policy or Policy())
        sides.append(
            Side(
                label,
                target,
                served,
                AppRecording(label, StartRecording(True, 0.0)),
                side_policy,
            )
        )
    for side in sides:
        side.began = asyncio.get_running_loop().time()
    making_file, data = None, {side.label: [side.served.link.parent] for side in sides}
    if "bigfile" in exercises:
        folder = sample_folder(workdir)
        making_file = asyncio.ensure_future(asyncio.to_thread(sample_file, folder))
        for folders in data.values():
            folders.append(folder)
        # Inside the folder each app already reads (data), so an isolated app sees it too.
        for side in sides:
            side.start_folder = workdir / side.label / "start"
            side.default_sha256 = write_sample_file(side.start_folder / BIGFILE_DEFAULT_PATH, DEFAULT_FILE_SIZE)
            side.untyped = side.served.link.with_name(side.served.link.stem)
            side.untyped_sha256 = write_sample_file(side.untyped, DEFAULT_FILE_SIZE)

    # Start-up costs CPU (each server imports the app; without the fork server,
    # uvicorn and FastAPI too: about 0.5 s each). The servers
    # for the light probes start first; the download servers start while the
    # light probes run, whose verdicts are all relative to the reference
    # measured at the same moment.
    light = [server for name in exercises if name != "bigfile" for server in (name, SECOND_SERVER[name])]
    heavy = [
        server for name in exercises if name == "bigfile" for server in (name, SECOND_SERVER[name], UNTYPED_SERVER)
    ]
    # The browser starts first, beside the servers: its start-up (seconds on
    # a loaded machine) then overlaps theirs and the probes' instead of
    # adding to them. Its page reads the events exercise's second server.
    browsing = BrowserSession([side.label for side in sides]) if "events" in exercises else None
    try:
        if browsing is not None:
            browsing.start()
        await asyncio.gather(*(start_servers(side, light or heavy, start_timeout, data[side.label]) for side in sides))
        if browsing is not None:
            for side in sides:
                server = side.servers.get(SECOND_SERVER["events"]) if side.started else None
                browsing.app_runs(side.label, server.base_url if server else None)
        later = heavy if light else []
        if not all(side.started for side in sides):
            later = []  # every check depends on both apps running: nothing to probe
        starting = asyncio.ensure_future(
            asyncio.gather(*(start_servers(side, later, start_timeout, data[side.label]) for side in sides))
        )

        async def file_ready() -> None:
            if making_file is not None:
                source, digest = await making_file
                for side in sides:
                    side.served = ServedFile(side.served.link, source, BIGFILE_SIZE, digest)

        serving = asyncio.ensure_future(asyncio.gather(starting, file_ready()))

        async def bigfile(side: Side, server: RunningApp) -> BigfileRecording:
            recording, default, untyped = await asyncio.gather(
                probe_bigfile_light(server.base_url, server.meter, side.served),
                probe_small_file(side.servers[SECOND_SERVER["bigfile"]].base_url),
                probe_small_file(side.servers[UNTYPED_SERVER].base_url),
            )
            recording.default_path = default
            recording.default_path_size, recording.default_path_sha256 = DEFAULT_FILE_SIZE, side.default_sha256
            recording.untyped, recording.untyped_name = untyped, side.untyped.name
            recording.untyped_sha256 = side.untyped_sha256
            return recording

        async def bigfile_light(side: Side) -> None:
            await serving  # the download servers start while the timing probes run
            await guarded(side, "bigfile", lambda server: bigfile(side, server), keeper(side, "bigfile"))

        async def chat(side: Side, server: RunningApp) -> ChatRecording:
            recording, (paced, accepted) = await asyncio.gather(
                probe_chat(server.base_url, random.Random(seed)),
                probe_chat_more(side.servers[SECOND_SERVER["chat"]].base_url, random.Random(f"{seed}-more")),
            )
            recording.paced, recording.accepted = paced, accepted
            return recording

        async def events(side: Side, server: RunningApp) -> EventsRecording:
            recording, more = await asyncio.gather(
                probe_events(server.base_url, random.Random(seed)),
                probe_events_more(side.servers[SECOND_SERVER["events"]].base_url),
            )
            recording.more = more
            return recording

        # Phase 1: the timing-sensitive probes (each exercise on two servers
        # at once), and the light part of the download exercise (a slow
        # reader, ranges, HEAD, a missing file) on its own servers. Every app
        # gets the same prompts and ids: each probe its own Random(seed).
        if all(side.started for side in sides):
            await asyncio.gather(
                *(
                    guarded(side, "chat", lambda server, side=side: chat(side, server), keeper(side, "chat"))
                    for side in sides
                ),
                *(
                    guarded(side, "events", lambda server, side=side: events(side, server), keeper(side, "events"))
                    for side in sides
                ),
                *(bigfile_light(side) for side in sides if "bigfile" in exercises),
            )
        await serving

        # Phase 2: the full-speed downloads (CPU-heavy, so after the timing
        # probes), and on the events servers, which have no other work left,
        # what happens after clients disconnect: CPU time is counted per
        # process, so the downloads don't blur it.
        if all(side.started for side in sides):
            clock = DownloadClock()
            clock.reference_seconds = reference_seconds
            again = reference_target if reference_seconds is not None else None

            def full_download(side: Side) -> Callable[[RunningApp], Awaitable[Download]]:
                if side.label == "reference":
                    return lambda server: probe_full_download(server.base_url, server.meter, clock, is_reference=True)
                return lambda server: download_judged_now(side, server, clock, again, start_timeout, data[side.label])

            await asyncio.gather(
                *(guarded(side, "bigfile", full_download(side), keep_download(side)) for side in sides),
                *(
                    guarded(
                        side,
                        "events",
                        lambda server: probe_disconnect(server.base_url, server.meter),
                        keep_disconnect(side),
                    )
                    for side in sides
                ),
            )
        if browsing is not None:
            seen = await browsing.recordings()
            for side in sides:
                if side.recording.events is not None:
                    side.recording.events.browser = seen[side.label]
                    note_elapsed(side, "events")
    finally:
        if browsing is not None:
            await browsing.stop()
        for side in sides:
            stop_side(side)
        if making_file is not None:
            await asyncio.gather(making_file, return_exceptions=True)
    return {side.label: side.recording for side in sides}


def record_apps(
    learner: AppTarget,
    reference: AppTarget | AppRecording,
    exercises: list[str],
    workdir: Path,
    seed: int,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    policy: Policy | None = None,
    reference_target: AppTarget | None = None,
) -> tuple[AppRecording, AppRecording]:
    """Record the learner's app and the reference, or only the learner's beside a reference recorded before.

    With a recording, ``reference_target`` is the app it was recorded from: a
    slow download is judged against it downloaded again at the same time.
    """
    if isinstance(reference, AppRecording):
        recorded_seconds = (
            reference.bigfile.download.seconds if reference.bigfile and reference.bigfile.download else None
        )
        recordings = asyncio.run(
            record_sides(
                {"learner": learner},
                exercises,
                workdir,
                seed,
                start_timeout,
                reference_seconds=recorded_seconds,
                policy=policy,
                reference_target=reference_target,
            )
        )
        return recordings["learner"], reference
    recordings = asyncio.run(
        record_sides(
            {"learner": learner, "reference": reference},
            exercises,
            workdir,
            seed,
            start_timeout,
            policy=policy,
        )
    )
    return recordings["learner"], recordings["reference"]


def record_reference(
    reference: AppTarget,
    exercises: list[str],
    workdir: Path,
    seed: int,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> AppRecording:
    """Record the reference alone, to calibrate many submissions against (batch grading)."""
    return asyncio.run(record_sides({"reference": reference}, exercises, workdir, seed, start_timeout))["reference"]
