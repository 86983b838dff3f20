"""What an exercise's probe is given, and what an exercise may prepare for a recording run.

Shared by every exercise and below them all: nothing here names one. The
scheduler (``probes/run.py``) makes one ``ExerciseRun`` per exercise and run
(shared by the learner's app and the reference), starts the servers it asks
for, and hands each probe a ``ProbeContext``.
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.launch import DEFAULT_START_TIMEOUT, AppTarget, Policy, RunningApp, start_app

if TYPE_CHECKING:
    from grader.recording import AppRecording

# The phases of a recording run. Timing-sensitive probes run first, side by
# side; heavy ones (CPU-bound downloads) and what must come last on a server
# (a disconnect that may wedge it) after them.
TIMING = 1
HEAVY = 2
PHASES = (TIMING, HEAVY)

Env = dict[str, str | None]  # None: the variable is unset for the app


@dataclass
class RunSettings:
    """What every exercise's part of one recording run shares."""

    workdir: Path
    seed: int
    labels: list[str]  # the apps recorded: "learner", "reference"
    start_timeout: float = DEFAULT_START_TIMEOUT
    # A reference recorded earlier (a batch records it once) and the app it
    # was recorded from, when only the learner is probed in this run.
    earlier_reference: AppRecording | None = None
    reference_target: AppTarget | None = None
    # The heavy work may run beside the light part, on servers of its own
    # (Exercise.overlap_servers): one exercise is recorded (watch mode's save,
    # `--exercise X`), so no other exercise's timing probes run, and no app's
    # servers share a memory limit (the sandbox's is per app: two downloads at
    # once of an app that reads the file whole would be killed at it, where
    # one after the other are not).
    heavy_beside_light: bool = False

    def folder(self, label: str) -> Path:
        """The app's own scratch folder in this run (every app reads it)."""
        return self.workdir / label


class ExerciseRun:
    """One exercise's part of a recording run, shared by both apps' probes.

    The default needs nothing; an exercise that serves files, sets its app's
    environment or runs a client of its own (a browser) beside its probes
    subclasses it. It is made before any server starts; ``started`` is
    called when its servers are up, ``close`` after every server stopped.
    """

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings

    def data(self, label: str) -> list[Path]:
        """More folders the app reads (an isolated app sees these and its own folder only)."""
        return []

    def env(self, label: str) -> Env:
        """Environment every server of the app gets (the app is one program, whichever route is probed)."""
        return {}

    def server_env(self, label: str, server: str) -> Env:
        """Environment for one of this exercise's servers, over ``env``."""
        return {}

    def server_folder(self, label: str, server: str) -> Path | None:
        """The folder one of this exercise's servers starts in (None: the app's own)."""
        return None

    def started(self, label: str, servers: dict[str, RunningApp] | None) -> None:
        """This exercise's servers for the app ``label`` are up (None: the app did not start)."""

    async def ready(self) -> None:
        """Finish what must be done before any probe starts (awaited once the first servers are up).

        For work that would disturb the timing probes if it ran beside them in
        the grader's own process (an import that holds the interpreter for a
        second): every exercise's timing probes wait for it.
        """

    def probes_begin(self) -> None:
        """Every run is ready and the first probes start now (after ``ready``; not called when an app did not start).

        For a client of the run's own that costs CPU to start (a browser):
        started here, it no longer competes with the servers' start and with
        ``ready``'s work, which every timing probe waits for.
        """

    async def close(self) -> None:
        """Wait for what the run started in the background (after the servers stopped)."""


@dataclass
class ProbeContext:
    """What a probe of one exercise gets for one app."""

    label: str  # "learner" or "reference"
    settings: RunSettings
    run: ExerciseRun  # the exercise's part of this run, shared by both apps
    servers: dict[str, RunningApp]  # this exercise's servers for this app, by name ("chat", "chat-more")
    data: list[Path] = field(default_factory=list)  # every folder the app reads
    name: str = ""  # the exercise's

    @property
    def is_reference(self) -> bool:
        return self.label == "reference"

    @property
    def seed(self) -> int:
        return self.settings.seed

    def rng(self, salt: str = "") -> random.Random:
        """The run's random source for this probe: every app gets the same prompts and ids."""
        return random.Random(f"{self.settings.seed}-{salt}" if salt else self.settings.seed)

    @property
    def main(self) -> RunningApp:
        return self.servers[self.name]

    def server(self, role: str) -> RunningApp:
        """One of the exercise's other servers: ``server("more")`` is "<name>-more"."""
        return self.servers[f"{self.name}-{role}"]


# A server's start is a wait in a thread (its launch, then its first HTTP
# answer): a thread each, so that all of a run's servers start at once.
# asyncio's own pool has min(32, cores + 4) threads, 6 on two cores, which
# started a full grading's 14 light servers in three waves.
STARTS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="app-start")


async def start_app_in_thread(
    target: AppTarget,
    env: Env,
    start_timeout: float,
    policy: Policy,
    data: list[Path],
    workdir: Path | None = None,
) -> RunningApp:
    """``start_app`` in a worker thread; a server that comes up after this was cancelled is stopped, not leaked."""
    lock = threading.Lock()
    state: dict[str, Any] = {"cancelled": False, "app": None}

    def start() -> RunningApp:
        app = start_app(target, env, start_timeout, policy, data, workdir)
        with lock:
            abandoned = state["cancelled"]
            state["app"] = app
        if abandoned:
            app.stop()
        return app

    try:
        return await asyncio.get_running_loop().run_in_executor(STARTS, start)
    except asyncio.CancelledError:
        with lock:
            state["cancelled"] = True
            app = state["app"]
        if isinstance(app, RunningApp):
            app.stop()
        raise
