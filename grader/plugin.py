"""The pytest plugin that turns check tests into a grade.

Registered as a ``pytest11`` entry point, it stays inert unless
``--streamgrade-target`` is given. Then it records the target app and the
reference once per session (fixtures ``app`` and ``reference``), runs every
check first against the reference (to calibrate: a check the reference fails
in this run is ``inconclusive`` for the learner), then against the target,
and collects plain ``CheckResult`` data.
"""

from __future__ import annotations

import datetime
import random
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from grader import __version__, fixtures, kit, launch, options
from grader.checkapi import CheckFailed, Inconclusive, NotApplicable, NotRun
from grader.evidence import collect as collect_evidence
from grader.evidence import measurement, protections
from grader.exercises import NAMES as EXERCISES
from grader.exercises import warm_up
from grader.launch import DEFAULT_START_TIMEOUT, AppTarget, Limits, Policy, TargetError, resolve_level, resolve_target
from grader.probes.run import record_apps
from grader.recording import AppRecording, Calibration, load_calibration, save_calibration
from grader.render.json import render_json
from grader.results import CheckResult, GradeResult, Status
from grader.secondlook import Judge, doubtful, exercise_of, exercises_of, replace_exercises

CHECKS_DIR = Path(__file__).parent / "checks"
REFERENCE_APP = kit.reference_app()  # inside the installed package, or the checkout's reference/


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamgrade", "grading a streaming FastAPI app")
    group.addoption("--streamgrade-target", metavar="TARGET", help="the app to grade: app.py, a folder, or module:attr")
    group.addoption("--streamgrade-json", metavar="PATH", help="write the results as JSON")
    options.add_to_pytest(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id, depends=(), bonus=False, reproduce=''): a streamgrade check")
    config.addinivalue_line("markers", "points(n): what a streamgrade check is worth")
    config.addinivalue_line("markers", "hint(text): what a learner should try when a check fails")
    target = config.getoption("streamgrade_target", None)
    if target:
        config.pluginmanager.register(GradingSession(config, target), fixtures.SESSION_PLUGIN)
        config.pluginmanager.register(fixtures, "streamgrade-fixtures")


def check_marker(item: pytest.Item) -> pytest.Mark | None:
    return item.get_closest_marker("check")


def check_id(item: pytest.Item) -> str:
    marker = check_marker(item)
    return marker.args[0] if marker else item.nodeid


def judge_of(item: pytest.Function) -> Judge:
    """The check ``item`` as a pure function of the recordings."""
    marker = check_marker(item)
    assert marker is not None
    arguments = tuple(name for name in item._fixtureinfo.argnames if name in ("app", "reference"))
    return Judge(
        check_id(item), tuple(marker.kwargs.get("depends", ())), bool(marker.kwargs.get("timed")), item.obj, arguments
    )


def check_depends(items: list[pytest.Item]) -> None:
    """Every check's ``depends`` names a check that exists (collected here, or built in): else collection fails.

    A misspelt parent would otherwise gate nothing, silently.
    """
    from grader.batch.config import known_checks  # imports every check module: only when grading

    known = {check_id(item) for item in items if check_marker(item)} | set(known_checks())
    for item in items:
        marker = check_marker(item)
        missing = [parent for parent in (marker.kwargs.get("depends", ()) if marker else ()) if parent not in known]
        if missing:
            raise pytest.UsageError(
                f"{item.nodeid}: check {check_id(item)} depends on {', '.join(map(repr, missing))}, "
                "which is no check (a typo in depends?)"
            )


class GradingSession:
    """State of one grading run: the recordings and the results so far."""

    def __init__(self, config: pytest.Config, target: str) -> None:
        self.config = config
        try:
            self.target_app: AppTarget = resolve_target(target)
            reference = config.getoption("streamgrade_reference") or str(REFERENCE_APP)
            reference_dir = config.getoption("streamgrade_reference_dir")
            self.reference_app: AppTarget = resolve_target(reference, Path(reference_dir) if reference_dir else None)
        except TargetError as error:
            raise pytest.UsageError(str(error)) from None
        self.exercises = list(config.getoption("streamgrade_exercise") or EXERCISES)
        self.seed = config.getoption("streamgrade_seed")
        self.saved_reference: AppRecording | None = None
        saved = config.getoption("streamgrade_reference_recording")
        if saved:
            try:
                calibration = load_calibration(Path(saved))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise pytest.UsageError(f"{saved}: not a usable reference recording ({error})") from None
            self.saved_reference, self.seed = calibration.recording, calibration.seed
            self.exercises = [name for name in self.exercises if name in calibration.exercises]
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(2**32)
        start_timeout = config.getoption("streamgrade_start_timeout")
        self.start_timeout = DEFAULT_START_TIMEOUT if start_timeout is None else float(start_timeout)
        self.policy = sandbox_policy(config)
        # Its imports (about 0.5 s of CPU) overlap pytest's collection instead of the first app's start.
        launch.prepare()
        warm_up(self.exercises)
        self.json_path = config.getoption("streamgrade_json")
        self.results: dict[str, CheckResult] = {}
        self.reference_status: dict[str, Status] = {}
        self.unjudged: set[str] = set()  # skipped under a parent that was not judged
        self.not_run: set[str] = set()  # not run: the machine lacks what they need
        self.started = time.perf_counter()
        self.started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self._recordings: tuple[AppRecording, AppRecording] | None = None
        self.judges: list[Judge] = []  # the selected checks, for the second look
        self.looked_again: list[str] = []  # exercises recorded a second time
        self.first_failures: dict[str, list[str]] = {}  # why: the timed checks that failed first, and whose
        self.first_recordings: tuple[AppRecording, AppRecording] | None = None  # before the second look
        self.result: GradeResult | None = None
        self.interrupted = False  # Ctrl-C (or SIGINT) stopped the run

    # -- recordings ---------------------------------------------------------

    def recordings(self) -> tuple[AppRecording, AppRecording]:
        if self._recordings is None:
            self._recordings = self.record_exercises(self.exercises, self.saved_reference or self.reference_app)
            self._recordings = self.look_again(*self._recordings)
            self.save_reference(self._recordings[1])
        return self._recordings

    def record_exercises(
        self, exercises: list[str], reference: AppTarget | AppRecording
    ) -> tuple[AppRecording, AppRecording]:
        with tempfile.TemporaryDirectory(prefix="streamgrade-") as workdir:
            return record_apps(
                self.target_app,
                reference,
                exercises,
                Path(workdir),
                self.seed,
                start_timeout=self.start_timeout,
                policy=self.policy,
                reference_target=self.reference_app,
            )

    def look_again(self, learner: AppRecording, reference: AppRecording) -> tuple[AppRecording, AppRecording]:
        """Record again each exercise a timed check failed in, both apps side by side (grader.secondlook).

        Always beside the live reference: a batch's saved one was timed at
        the batch's start, in other conditions than this app's.
        """
        if not (learner.start.ok and reference.start.ok):
            return learner, reference
        failed = doubtful(self.judges, learner, reference)
        exercises = exercises_of(failed)
        if not exercises:
            return learner, reference
        second_learner, second_reference = self.record_exercises(exercises, self.reference_app)
        if not (second_learner.start.ok and second_reference.start.ok):
            return learner, reference  # the first recording is all there is
        self.looked_again = exercises
        self.first_failures = failed
        self.first_recordings = (learner, reference)
        return (
            replace_exercises(learner, second_learner, exercises),
            replace_exercises(reference, second_reference, exercises),
        )

    def save_reference(self, reference: AppRecording) -> None:
        """Keep a complete recording of the reference, so later runs with the same seed can skip probing it."""
        path = self.config.getoption("streamgrade_save_reference")
        complete = all(name in reference.recordings for name in self.exercises) and not reference.probe_errors
        if path and self.saved_reference is None and complete:
            save_calibration(Path(path), Calibration(self.seed, self.exercises, reference))

    # -- selection and order --------------------------------------------------

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        check_depends(items)
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            exercise = exercise_of(check_id(item))
            (keep if check_marker(item) and (exercise == "app" or exercise in self.exercises) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        # Parents before children: app.starts first, then each exercise in file order.
        keep.sort(key=lambda item: 0 if check_id(item) == "app.starts" else 1)
        items[:] = keep
        self.judges = [judge_of(item) for item in keep if isinstance(item, pytest.Function)]

    # -- running --------------------------------------------------------------

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = check_marker(item)
        if marker is None:
            return
        for parent in marker.kwargs.get("depends", ()):
            result = self.results.get(parent)
            if result is None:
                continue  # not selected in this run
            if not result.counted:
                # Nothing was judged above this check: it can't cost points either.
                self.unjudged.add(check_id(item))
                pytest.skip(f"Not checked and not counted, because {parent} could not be judged in this run.")
            if result.status != "passed":
                pytest.skip(f"Not checked, because {parent} did not pass.")

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        if check_marker(pyfuncitem) is None:
            return None
        identifier = check_id(pyfuncitem)
        arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        learner, reference = self.recordings()
        exercise = exercise_of(identifier)
        for recording in (reference, learner):
            if exercise in recording.probe_errors:
                raise GraderError(f"The grader's {exercise} probe crashed:\n{recording.probe_errors[exercise]}")
        if "app" not in arguments:
            pyfuncitem.obj(**arguments)
            return True
        # The exercise's recordings, the latest first: one, or two after a second look.
        pairs = [(learner, reference)]
        if exercise in self.looked_again and self.first_recordings is not None:
            first_learner, first_reference = self.first_recordings
            if exercise not in first_learner.probe_errors and exercise not in first_reference.probe_errors:
                pairs.append((first_learner, first_reference))
        self.judge(pyfuncitem, identifier, arguments, pairs)
        return True

    def judge(
        self,
        item: pytest.Function,
        identifier: str,
        arguments: dict[str, Any],
        pairs: list[tuple[AppRecording, AppRecording]],
    ) -> None:
        """Judge the check on the latest recording whose reference passes it (the second look's, then the first).

        A recording whose reference failed the check can't judge it: the
        first recording then judges, if its reference passed. A pass in the
        first recording does not undo a failure in the second: a check
        judged against a reference slowed by the machine can pass wrongly.
        """
        unjudged: Inconclusive | None = None
        for learner, reference in pairs:
            judged = {
                **arguments,
                "app": learner,
                **({"reference": reference} if "reference" in arguments else {}),
            }
            try:
                self.calibrate(item, identifier, {**judged, "app": reference})
            except Inconclusive as error:
                unjudged = unjudged or error
                continue
            item.obj(**judged)
            return
        assert unjudged is not None
        raise unjudged

    def calibrate(self, item: pytest.Function, identifier: str, arguments: dict[str, Any]) -> None:
        """Run the check on the reference first: if it fails there, this run can't judge it."""
        try:
            item.obj(**arguments)
        except CheckFailed as failure:
            self.reference_status[identifier] = "failed"
            raise Inconclusive(
                "The reference solution failed this check in this run too, so the machine (not your app) "
                f"is the likely cause; it is not counted. The reference's result: {failure.message}"
            ) from None
        except NotRun:
            raise  # the same machine runs the learner's app: nothing to calibrate
        except (NotApplicable, Inconclusive):
            self.reference_status[identifier] = "inconclusive"
            raise Inconclusive("The reference solution could not be measured for this check in this run.") from None
        self.reference_status[identifier] = "passed"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        outcome = yield
        report = outcome.get_result()
        marker = check_marker(item)
        if marker is None:
            return
        if call.when == "setup" and report.skipped:
            self.record(item, "skipped", message=str(report.longrepr[2]).removeprefix("Skipped: "))
        elif call.when == "setup" and report.failed:
            # Recording the apps (the fixtures) failed: the grader's fault, said on every check it left
            # unjudged; silence here would read as a score of 0/0.
            self.record(
                item,
                "error",
                traceback=report.longreprtext,
                message="The grader itself failed while running the apps; this is not your app's fault and "
                "is not counted.",
            )
        elif call.when == "call":
            self.record_call(item, call)
            self.results[check_id(item)].duration = round(call.duration, 6)  # JUnit's testcase time

    def record_call(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        if call.excinfo is None:
            self.record(item, "passed")
            return
        error = call.excinfo.value
        if isinstance(error, CheckFailed):
            self.record(
                item,
                "failed",
                message=error.message,
                hint=error.hint or None,
                evidence=error.evidence,
                reproduce=error.reproduce,
            )
        elif isinstance(error, Inconclusive):
            self.record(item, "inconclusive", message=str(error))
        elif isinstance(error, NotRun):
            self.not_run.add(check_id(item))
            self.record(item, "skipped", message=str(error))
        elif isinstance(error, (NotApplicable, pytest.skip.Exception)):
            self.record(item, "skipped", message=str(error))
        else:
            tb = "".join(traceback.format_exception(error))
            self.record(
                item,
                "error",
                message="The grader itself failed on this check; this is not your app's fault and is not counted.",
                traceback=tb,
            )

    def record(
        self,
        item: pytest.Item,
        status: Status,
        *,
        message: str = "",
        hint: str | None = None,
        evidence: dict[str, Any] | None = None,
        traceback: str = "",
        reproduce: str = "",
    ) -> None:
        marker = check_marker(item)
        assert marker is not None
        identifier = check_id(item)
        points_marker = item.get_closest_marker("points")
        hint_marker = item.get_closest_marker("hint")
        points = float(points_marker.args[0]) if points_marker else 1.0
        doc = (getattr(item, "obj", None).__doc__ or identifier).strip().splitlines()[0]
        self.results[identifier] = CheckResult(
            id=identifier,
            exercise=exercise_of(identifier),
            title=doc,
            status=status,
            max_score=points,
            bonus=bool(marker.kwargs.get("bonus", False)),
            message=message,
            hint=(hint if hint is not None else (hint_marker.args[0] if hint_marker else ""))
            if status == "failed"
            else "",
            reproduce=reproduce or marker.kwargs.get("reproduce", ""),
            reference_status=self.reference_status.get(identifier),
            evidence=evidence or {},
            traceback=traceback,
            parent_unjudged=status == "skipped" and identifier in self.unjudged,
            not_run=status == "skipped" and identifier in self.not_run,
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            # A run that did not finish has no result: no score, no report to replace the last one.
            self.interrupted = True
            return
        notes = []
        inconclusive = [r.id for r in self.results.values() if r.status == "inconclusive"]
        if inconclusive:
            notes.append(
                "Not counted because the reference solution failed them in this run (a busy or unusual machine): "
                + ", ".join(inconclusive)
            )
        if self.looked_again:
            failed = "; ".join(
                f"{identifier} ({' and '.join(whose)})" for identifier, whose in self.first_failures.items()
            )
            notes.append(
                "A check judged on timing failed in the first recording of "
                + ", ".join(self.looked_again)
                + f" ({failed}), so that part was recorded again, both apps side by side; its verdicts come "
                "from the second recording (a busy moment spoils a measurement once, a real fault shows every time)."
            )
        if self._recordings:
            notes += self._recordings[0].incidents
        if self._recordings and self._recordings[0].exits:
            notes.append(
                "Your server stopped by itself during grading ("
                + "; ".join(self._recordings[0].exits)
                + "): every request after that got no answer. What it printed is at the end of the report."
            )
        self.result = GradeResult(
            target=self.target_app.label,
            reference=self.reference_app.label,
            grader_version=__version__,
            started_at=self.started_at,
            duration=round(time.perf_counter() - self.started, 2),
            exercises=self.exercises,
            checks=list(self.results.values()),
            notes=notes,
            evidence=collect_evidence(*self._recordings) if self._recordings else {},
            protections=protections(self._recordings[0]) if self._recordings else None,
            unwritten=self._recordings[0].unwritten() if self._recordings else [],
            timings=dict(self._recordings[0].elapsed) if self._recordings else {},
            measurement=measurement(self._recordings[0]) if self._recordings else None,
        )
        if self.json_path:
            Path(self.json_path).write_text(render_json(self.result), encoding="utf-8")

    def pytest_report_header(self) -> str:
        return (
            f"streamgrade: grading {self.target_app.label} against {self.reference_app.label}; "
            f"repeat with --streamgrade-seed={self.seed}"
        )


def sandbox_policy(config: pytest.Config) -> Policy:
    level = config.getoption("streamgrade_sandbox")
    problem = config.getoption("streamgrade_isolation_problem")
    try:
        limits_json = config.getoption("streamgrade_limits")
        limits = Limits.from_json(limits_json) if limits_json else Limits()
        if level == "auto":
            level, problem = resolve_level("auto")
    except (ValueError, TypeError, RuntimeError) as error:
        raise pytest.UsageError(f"sandbox: {error}") from None
    return Policy(level, limits, problem)


class GraderError(RuntimeError):
    """A probe of the grader crashed: reported as an error, never as the learner's failure."""
