"""Run the learner's app and the reference side by side and record both.

Each exercise gets fresh servers per app (its own and a second one probed
beside it, see ``grader.exercises``), so a bug that wedges one endpoint
can't spoil the evidence for another. Phases are ordered so that what
disturbs timing never overlaps it: the timing-sensitive probes run together
first, the heavy ones (downloads) and what must come last on a server (a
disconnect) after them. With one exercise recorded (and no sandbox's memory
limit shared by an app's servers), no other exercise's timing is disturbed:
its heavy work may then run beside its light part, on servers of its own
(``Exercise.overlap_servers``). The exercises come from the registry;
nothing here names one.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.exercises import Exercise, Probe, selected
from grader.launch import (
    DEFAULT_START_TIMEOUT,
    AppStartError,
    AppTarget,
    Policy,
    RunningApp,
)
from grader.probes.context import HEAVY, TIMING, ExerciseRun, ProbeContext, RunSettings, start_app_in_thread
from grader.recording import AppRecording, StartRecording
from grader.tracebacks import crashes


@dataclass
class Side:
    """One app under test (the learner's or the reference) and its servers."""

    label: str
    target: AppTarget
    recording: AppRecording
    policy: Policy = field(default_factory=Policy)
    data: list[Path] = field(default_factory=list)  # the folders the app reads (all an isolated app sees)
    servers: dict[str, RunningApp] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    began: float = 0.0  # when its recording started, on the event loop's clock

    @property
    def started(self) -> bool:
        return self.recording.start.ok


@dataclass(frozen=True)
class ServerPlan:
    """One server to start for every app: whose it is and how it starts."""

    name: str  # "chat", "chat-more"
    exercise: Exercise
    run: ExerciseRun


def server_plans(exercises: list[Exercise], runs: dict[str, ExerciseRun]) -> list[ServerPlan]:
    return [
        ServerPlan(name, exercise, run)
        for exercise in exercises
        for run in [runs[exercise.name]]
        for name in exercise.server_names(run.settings.heavy_beside_light)
    ]


async def start_servers(side: Side, plans: list[ServerPlan], start_timeout: float, runs: list[ExerciseRun]) -> None:
    """Start the planned servers; any failure is the app's start failure.

    Every server gets the environment every exercise asks for (the app is one
    program), then its own exercise's for that server.
    """
    env: dict[str, str | None] = {}
    for run in runs:
        env.update(run.env(side.label))
    clock = asyncio.get_running_loop().time
    started = clock()
    results = await asyncio.gather(
        *(
            start_app_in_thread(
                side.target,
                {**env, **plan.run.server_env(side.label, plan.name)},
                start_timeout,
                side.policy,
                side.data,
                plan.run.server_folder(side.label, plan.name),
            )
            for plan in plans
        ),
        return_exceptions=True,
    )
    side.recording.start.seconds = max(side.recording.start.seconds, clock() - started)
    for plan, result in zip(plans, results, strict=True):
        if isinstance(result, RunningApp):
            side.servers[plan.name] = result
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
    stop_sides([side])


def stop_sides(sides: list[Side]) -> None:
    """Stop every server of ``sides``, all at once, and keep what each said as it ended."""
    for side in sides:
        for name, server in side.servers.items():
            code = server.process.poll()
            if code is not None:
                side.recording.exits.append(f"the server for {name} exited with code {code} while it was being tested")
    # Side by side, both apps' too: each stop sweeps /proc for what its server
    # started, which takes a while on a busy machine, and it is on the way to every verdict.
    every = [server for side in sides for server in side.servers.values()]
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(every))) as pool:
            list(pool.map(lambda server: server.stop(), every))
    finally:  # every stop was tried: what each server said is kept even if one stop failed
        for side in sides:
            keep_what_servers_said(side)


def keep_what_servers_said(side: Side) -> None:
    """The stopped servers' protections, incidents and logs, into the side's recording."""
    for name, server in side.servers.items():
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


async def guarded(side: Side, exercise: str, probe: Callable[[RunningApp], Awaitable[Any]]) -> None:
    """Run one probe and keep the recording it returns; a crash in it is the grader's, kept as an error."""
    server = side.servers.get(exercise)
    if server is None or exercise in side.recording.probe_errors:
        return
    try:
        side.recording.recordings[exercise] = await probe(server)
    except Exception:
        side.recording.probe_errors[exercise] = traceback.format_exc()
    finally:
        note_elapsed(side, exercise)


def note_elapsed(side: Side, exercise: str) -> None:
    """The exercise's probes have run until now (the latest of its probes counts)."""
    ended = asyncio.get_running_loop().time() - side.began
    side.recording.elapsed[exercise] = round(max(ended, side.recording.elapsed.get(exercise, 0.0)), 2)


def run_probe(side: Side, exercise: Exercise, probe: Probe, settings: RunSettings, run: ExerciseRun) -> Awaitable[None]:
    """``probe`` of ``exercise`` on ``side``, given the recording of the phase before (none for the first)."""
    first = probe is exercise.probes[0]
    earlier = side.recording.recordings.get(exercise.name)
    if not first and earlier is None:
        return asyncio.sleep(0)  # the phase before recorded nothing: nothing to add to

    def start(server: RunningApp) -> Awaitable[Any]:
        servers = {
            name: side.servers[name]
            for name in exercise.server_names(settings.heavy_beside_light)
            if name in side.servers
        }
        context = ProbeContext(side.label, settings, run, servers, side.data, exercise.name)
        return probe.run(context, None if first else earlier)

    return guarded(side, exercise.name, start)


def tell_started(sides: list[Side], plans: list[ServerPlan]) -> None:
    """Each exercise whose servers were just started hears which of them run, per app."""
    for run, exercise in {plan.run: plan.exercise for plan in plans}.items():
        for side in sides:
            names = exercise.server_names(run.settings.heavy_beside_light)
            servers = {name: side.servers[name] for name in names if name in side.servers}
            run.started(side.label, servers if side.started else None)


def probes_in(exercise: Exercise, phase: int) -> list[Probe]:
    return [probe for probe in exercise.probes if probe.phase == phase]


async def record_sides(
    targets: dict[str, AppTarget],
    exercises: list[str],
    workdir: Path,
    seed: int,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    earlier_reference: AppRecording | None = None,
    policy: Policy | None = None,
    reference_target: AppTarget | None = None,
) -> dict[str, AppRecording]:
    """Record each app in ``targets`` (label -> target), all probed at the same time.

    ``earlier_reference``: the reference's recording when it was recorded
    earlier (a batch records it once) and only the others are probed now;
    ``reference_target`` is the app it was recorded from (an exercise may
    probe it again beside a learner's, see bigfile.REMEASURE_FACTOR).
    ``policy`` is the sandbox for every app but the reference (trusted, and
    calibrating in the conditions a learner's machine has).
    """
    chosen = selected(exercises)
    settings = RunSettings(workdir, seed, list(targets), start_timeout, earlier_reference, reference_target)
    sides = []
    for label, target in targets.items():
        settings.folder(label).mkdir(parents=True, exist_ok=True)
        side_policy = Policy() if label == "reference" else (policy or Policy())
        sides.append(Side(label, target, AppRecording(label, StartRecording(True, 0.0)), side_policy))
    settings.heavy_beside_light = len(chosen) == 1 and not any(side.policy.limited for side in sides)
    for side in sides:
        side.began = asyncio.get_running_loop().time()
    runs: dict[str, ExerciseRun] = {}
    try:
        for exercise in chosen:
            runs[exercise.name] = exercise.setup(settings)
        for side in sides:
            side.data = [settings.folder(side.label)] + [
                folder for run in runs.values() for folder in run.data(side.label)
            ]
        await record(sides, chosen, runs, settings)
    finally:
        stop_sides(sides)
        await asyncio.gather(*(run.close() for run in runs.values()), return_exceptions=True)
    return {side.label: side.recording for side in sides}


async def record(
    sides: list[Side], chosen: list[Exercise], runs: dict[str, ExerciseRun], settings: RunSettings
) -> None:
    """Start the servers and probe, phase by phase."""
    # Start-up costs CPU (each server imports the app; without the fork server,
    # uvicorn and FastAPI too: about 0.5 s each). The servers
    # for the light exercises start first; the heavy exercises' servers start
    # while the light probes run, whose verdicts are all relative to the
    # reference measured at the same moment.
    light = server_plans([exercise for exercise in chosen if not exercise.heavy], runs)
    heavy = server_plans([exercise for exercise in chosen if exercise.heavy], runs)
    all_runs = list(runs.values())
    start_timeout = settings.start_timeout
    await asyncio.gather(*(start_servers(side, light or heavy, start_timeout, all_runs) for side in sides))
    tell_started(sides, light or heavy)
    # Before the timing probes: what a run must finish first, not beside them (ExerciseRun.ready).
    await asyncio.gather(*(run.ready() for run in all_runs))
    later = heavy if light else []
    if not all(side.started for side in sides):
        later = []  # every check depends on both apps running: nothing to probe
    else:
        for run in all_runs:
            run.probes_begin()

    async def start_later() -> None:
        await asyncio.gather(*(start_servers(side, later, start_timeout, all_runs) for side in sides))
        tell_started(sides, later)

    starting = asyncio.ensure_future(start_later())

    async def after_start(probe: Awaitable[None]) -> None:
        await starting  # the heavy exercises' servers start while the timing probes run
        await probe

    # Phase 1: the timing-sensitive probes (each exercise on its servers at
    # once), and the heavy exercises' light part on their own servers. Every
    # app gets the same prompts and ids: each probe draws from the run's seed.
    if all(side.started for side in sides):
        await asyncio.gather(
            *(
                after_start(run_probe(side, exercise, probe, settings, runs[exercise.name]))
                if exercise.heavy
                else run_probe(side, exercise, probe, settings, runs[exercise.name])
                for exercise in chosen
                for probe in probes_in(exercise, TIMING)
                for side in sides
            )
        )
    await starting

    # Phase 2: the heavy probes, and what must come last on a server.
    if all(side.started for side in sides):
        await asyncio.gather(
            *(
                run_probe(side, exercise, probe, settings, runs[exercise.name])
                for exercise in chosen
                for probe in probes_in(exercise, HEAVY)
                for side in sides
            )
        )


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
        recordings = asyncio.run(
            record_sides(
                {"learner": learner},
                exercises,
                workdir,
                seed,
                start_timeout,
                earlier_reference=reference,
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
