"""Grade a folder of submissions: in parallel, resumable, robust to any one submission.

The reference is recorded once per batch and handed to every grading
process, which probes only the submission. Each submission is graded by a
``streamgrade check`` child process with a wall-clock limit, from a scratch
copy of its files. Its outputs are written by this process, atomically,
after the child is gone; a hash file written last marks it complete, so an
interrupted batch resumes where it stopped and loses nothing graded.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__, launch
from grader import options as grading_options
from grader.batch.calibration import best_recording
from grader.batch.config import GradingConfig, known_checks
from grader.batch.submissions import (
    Submission,
    SubmissionError,
    content_hash,
    discover,
    prepare,
)
from grader.files import write_atomically
from grader.launch import grading_environment, new_group, resolve_target, stop_group
from grader.probes.run import record_reference
from grader.recording import AppRecording, Calibration, save_calibration
from grader.render.classreport import render_index
from grader.render.csv import render_csv
from grader.render.gradescope import render_gradescope
from grader.render.html import render_html
from grader.render.json import render_json
from grader.render.junit import render_junit
from grader.results import CheckResult, GradeResult

STATE_DIR = ".streamgrade"
# Each student's outputs go in a folder of this one, named by the submission's
# id: no id (a folder named gradescope, a file grades.csv.py) can then take the
# name of one of the class's own outputs.
STUDENTS_DIR = "students"
GRADESCOPE_DIR = "gradescope"
HASH_FILE = ".submission-hash"
NOTE_FILE = ".note"
# What a submission's own limit leaves for the grader to wind down.
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Sandbox:
    """The sandbox level this machine gave the batch, and why not a stronger one."""

    level: str
    problem: str = ""


@dataclass(frozen=True)
class BatchOptions:
    submissions: Path
    out: Path
    reference: str
    config: GradingConfig
    jobs: int = 1
    shard: tuple[int, int] | None = None  # (K, N): grade the K-th of N parts
    force: bool = False
    sandbox: Sandbox = Sandbox("off")
    # Where ``reference`` is named from: gradings run in folders of their own.
    reference_dir: Path = field(default_factory=Path.cwd)


class Interrupted(Exception):
    """The batch was stopped (Ctrl-C): what was graded is saved, the rest is not touched."""


class Stopping:
    """Shared by the worker threads: whether to stop, and the grading processes running."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.children: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()

    def stop(self) -> None:
        self.event.set()
        with self.lock:
            for child in self.children:
                stop_group(child)


@dataclass
class Outcome:
    submission: Submission
    result: GradeResult
    note: str = ""
    reused: bool = False


def in_shard(submission: Submission, shard: tuple[int, int] | None) -> bool:
    """A stable split: a student stays in the same shard when others are added."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(submission.id.encode()).hexdigest(), 16) % count == index - 1


def unusable_result(submission: Submission, message: str, config: GradingConfig) -> GradeResult:
    """The result of a submission that could not be graded: app.starts failed with why, the rest skipped."""
    checks = []
    for check_id, info in known_checks().items():
        exercise = check_id.split(".", 1)[0]
        if exercise != "app" and exercise not in config.exercises:
            continue
        starts = check_id == "app.starts"
        checks.append(
            CheckResult(
                id=check_id,
                exercise=exercise,
                title=info.title,
                status="failed" if starts else "skipped",
                max_score=info.points,
                bonus=info.bonus,
                message=message if starts else "Not checked, because app.starts did not pass.",
            )
        )
    return GradeResult(
        target=submission.source.name,
        reference="",
        grader_version=__version__,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        duration=0.0,
        exercises=list(config.exercises),
        checks=checks,
    )


def apply_config(result: GradeResult, config: GradingConfig) -> GradeResult:
    """The instructor's points and hidden checks.

    Each check's points and extra-credit flag come from the grader's own
    checks, never from the result read back (a results.json is a file an
    app under ``limits`` can reach); a check the grader does not have, or
    one listed twice, is dropped.
    """
    known = known_checks()
    seen: set[str] = set()
    kept = []
    for check in result.checks:
        if check.id not in known or check.id in seen:
            continue
        seen.add(check.id)
        check.max_score = config.points.get(check.id, known[check.id].points)
        check.bonus = known[check.id].bonus
        check.hidden = check.id in config.hidden
        kept.append(check)
    result.checks = kept
    return result


def run_check(
    app_path: Path, calibration: Path | None, options: BatchOptions, workdir: Path, stopping: Stopping
) -> tuple[GradeResult | None, str]:
    """Grade one prepared app in a child process within the submission's time limit.

    With ``calibration``, the app is judged against the reference recorded at
    the batch's start; without, the reference is recorded beside it.
    """
    config = options.config
    output = workdir / "results.json"
    output.unlink(missing_ok=True)
    grading = {
        "exercise": list(config.exercises),
        "reference": options.reference,
        "reference_dir": str(options.reference_dir),
        "reference_recording": str(calibration) if calibration is not None else None,
        "start_timeout": config.start_timeout,
        "sandbox": options.sandbox.level,
        "limits": config.limits.to_json(),
        "isolation_problem": options.sandbox.problem,
    }
    command = [
        sys.executable,
        "-m",
        "grader",
        "check",
        str(app_path),
        "--json",
        str(output),
        "--no-html",
        *grading_options.arguments(grading),
    ]
    # Nothing secret: the grading process starts the reference's second timing, and apps could read that.
    env = grading_environment(os.environ)
    env.update(launch.child_environment())  # the batch's fork server: its imports are paid once
    with stopping.lock:  # registered before another thread's sweep can take it for a stray
        child = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            **new_group(),
        )
        stopping.children.add(child)
    try:
        _, stderr = child.communicate(timeout=config.submission_timeout)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the grader then stops the app's servers on its way out.
        stop_group(child)
        try:
            child.communicate(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            stop_group(child, kill=True)
            child.communicate()
        return (
            None,
            f"stopped: grading took longer than the {config.submission_timeout:g} s limit",
        )
    finally:
        with stopping.lock:
            stopping.children.discard(child)
            # A grading process killed at its time limit leaves its app's
            # launchers to this process (a subreaper): stop them now.
            launch.stop_orphans([c.pid for c in stopping.children] + launch.own_helpers())
    if stopping.event.is_set():
        raise Interrupted
    if not output.exists():
        if child.returncode < 0:
            # Nothing kills a grading process but the machine or a program
            # with the rights to: outside isolation, the app it was grading.
            return None, (
                f"the grading process was killed (signal {-child.returncode}) before it could save "
                "results; an app that kills processes it did not start causes this"
            )
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if stderr else []
        return None, "the grader could not grade it" + (f": {tail[0][:300]}" if tail else "")
    return GradeResult.from_dict(json.loads(output.read_text(encoding="utf-8"))), ""


def student_folder(out: Path, student: str) -> Path:
    return out / STUDENTS_DIR / student


# A hash no content has: a submission that can't be hashed is tried again on every run.
UNHASHABLE = "unhashable"


def grade_submission(submission: Submission, options: BatchOptions, calibration: Path, stopping: Stopping) -> Outcome:
    folder = student_folder(options.out, submission.id)
    digest = UNHASHABLE
    try:
        digest = content_hash(submission)
        with tempfile.TemporaryDirectory(prefix="streamgrade-submission-") as scratch:
            scratch_path = Path(scratch)
            app_path = prepare(submission, scratch_path / "files")
            # A timed check that fails against the saved reference is judged again
            # beside the live one by the grading process itself (grader.secondlook).
            result, note = run_check(app_path, calibration, options, scratch_path, stopping)
    except SubmissionError as error:
        result, note = None, f"unusable submission: {error}"
    except Interrupted:
        raise
    except Exception as error:
        result, note = None, f"the grader failed on this submission: {type(error).__name__}: {str(error)[:300]}"
    if result is None:
        result = unusable_result(submission, f"This submission could not be graded: {note}.", options.config)
    result.target = submission.source.name
    result.name = submission.name
    apply_config(result, options.config)

    write_atomically(folder / "results.json", render_json(result))
    write_atomically(folder / "report.html", render_html(result))
    write_atomically(folder / "junit.xml", render_junit(result, submission.id))
    write_atomically(options.out / GRADESCOPE_DIR / f"{submission.id}.json", render_gradescope(result))
    write_atomically(folder / NOTE_FILE, note)
    write_atomically(folder / HASH_FILE, digest)  # last: marks the submission done
    return Outcome(submission, result, note)


def calibrate(options: BatchOptions) -> Path:
    """Record the reference once for the whole batch."""
    state = options.out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    seed = random.SystemRandom().randrange(2**32)
    exercises = list(options.config.exercises)
    target = resolve_target(options.reference)

    def record() -> AppRecording:
        with tempfile.TemporaryDirectory(prefix="streamgrade-reference-") as workdir:
            return record_reference(target, exercises, Path(workdir), seed, options.config.start_timeout)

    # Taken again when it fails its own checks: one recording calibrates the whole class.
    recording, _ = best_recording(record)
    if not recording.start.ok:
        raise RuntimeError(f"the reference app did not start: {recording.start.message}\n{recording.start.log}")
    path = state / "reference.json"
    save_calibration(path, Calibration(seed, exercises, recording))
    return path


def collect_results(out: Path) -> tuple[dict[str, GradeResult], dict[str, str]]:
    """Every completed submission's result in OUT (whoever graded it: this run, an earlier one, a shard)."""
    results, notes = {}, {}
    for folder in completed_students(out):
        try:
            results[folder.name] = GradeResult.from_dict(json.loads((folder / "results.json").read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged result is regraded on the next run (its hash file is stale then)
        note_file = folder / NOTE_FILE
        notes[folder.name] = note_file.read_text("utf-8") if note_file.is_file() else ""
    return results, notes


def completed_students(out: Path) -> list[Path]:
    """The folders of the students in OUT whose outputs are complete, sorted by id."""
    students = out / STUDENTS_DIR
    if not students.is_dir():
        return []
    return sorted(
        path for path in students.iterdir() if path.is_dir() and not path.is_symlink() and (path / HASH_FILE).is_file()
    )


def write_class_outputs(
    out: Path, config: GradingConfig, title: str = "streamgrade: class results"
) -> dict[str, GradeResult]:
    results, notes = collect_results(out)
    check_ids = sorted(
        {check.id for result in results.values() for check in result.checks},
        key=lambda check_id: (check_id != "app.starts", check_id),
    )
    write_atomically(out / "grades.csv", render_csv(results, check_ids, notes))
    write_atomically(out / "index.html", render_index(results, notes, list(config.exercises), title, STUDENTS_DIR))
    return results


def run_batch(options: BatchOptions, report: Callable[[Outcome, int, int], None]) -> list[Outcome]:
    submissions = [sub for sub in discover(options.submissions) if in_shard(sub, options.shard)]
    options.out.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    pending = []
    for submission in submissions:
        outcome = reuse(submission, options)
        if outcome is not None:
            outcomes.append(outcome)
            report(outcome, len(outcomes), len(submissions))
        else:
            pending.append(submission)
    if pending:
        launch.adopt_orphans()
        launch.keep_secrets()  # the instructor's environment is in this process
        reference = resolve_target(options.reference, options.reference_dir)
        launch.prepare(share=True, floor=options.sandbox.level, trusted=[str(reference.app_dir)])
        try:
            grade_pending(pending, options, outcomes, len(submissions), report)
        finally:
            launch.shutdown()
    write_class_outputs(options.out, options.config)
    return outcomes


def grade_pending(
    pending: list[Submission],
    options: BatchOptions,
    outcomes: list[Outcome],
    total: int,
    report: Callable[[Outcome, int, int], None],
) -> None:
    """Record the reference, then grade ``pending`` in parallel, adding each outcome as it comes."""
    calibration = calibrate(options)
    stopping = Stopping()
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
    futures = [pool.submit(grade_submission, sub, options, calibration, stopping) for sub in pending]
    try:
        for future in as_completed(futures):
            outcomes.append(future.result())
            report(outcomes[-1], len(outcomes), total)
    except (KeyboardInterrupt, Interrupted):
        # Stop the gradings under way without writing anything for them;
        # everything finished is already saved.
        stopping.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise Interrupted from None
    pool.shutdown()


def reuse(submission: Submission, options: BatchOptions) -> Outcome | None:
    """The earlier result, if it is complete and the submission's files are unchanged."""
    if options.force:
        return None
    folder = student_folder(options.out, submission.id)
    try:
        if (folder / HASH_FILE).read_text().strip() != content_hash(submission):
            return None
        result = GradeResult.from_dict(json.loads((folder / "results.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):  # a SubmissionError too: it is taken in again, and refused again
        return None
    note = (folder / NOTE_FILE).read_text() if (folder / NOTE_FILE).is_file() else ""
    return Outcome(submission, result, note, reused=True)


def merge(sources: list[Path], out: Path, config: GradingConfig) -> int:
    """Combine shard outputs into OUT: the students' folders, then the class outputs made anew."""
    out.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Path] = {}
    for source in sources:
        for folder in completed_students(source):
            if folder.name in seen:
                raise ValueError(f"{folder.name} was graded in both {seen[folder.name]} and {source}")
            seen[folder.name] = source
            shutil.copytree(folder, student_folder(out, folder.name), dirs_exist_ok=True)
            gradescope = source / GRADESCOPE_DIR / f"{folder.name}.json"
            if gradescope.is_file():
                (out / GRADESCOPE_DIR).mkdir(exist_ok=True)
                shutil.copyfile(gradescope, out / GRADESCOPE_DIR / gradescope.name)
    write_class_outputs(out, config)
    return len(seen)
