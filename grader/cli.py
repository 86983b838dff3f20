"""The ``streamgrade`` command."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import io
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Only what parsing the command line needs is imported here. pytest, the
# checks and the renderers (about 0.2 s) are imported by the commands that
# use them, after `check` has started the fork server: its own imports then
# overlap them instead of delaying the first app's start.
from grader import __version__, launch, options
from grader.exercises import NAMES as EXERCISES
from grader.exercises import get as exercise_named
from grader.exercises import registry, samples
from grader.files import write_atomically
from grader.launch import TargetError, resolve_target

if TYPE_CHECKING:
    import pytest

    from grader.results import GradeResult

DEFAULT_SAMPLE_SIZE = "64M"

DEFAULT_TARGET = "starter/app.py"
TARGET_HELP = "app.py, a folder holding app.py (or the kit's folder), or module:attribute (default: starter/app.py)"
SANDBOX_SUMMARY = {
    "isolate": "Submissions run isolated: no network, no privileges, their own file-system view, resource limits.",
    "limits": "Submissions run under resource limits.",
    "off": "Submissions run without limits or isolation (--sandbox off).",
}
# Submissions graded at once: two per core, at most 8. A grading mostly
# waits (the contract's delays and intervals), so one per core leaves the
# cores idle. Measured with bench/run.py on the 2-core machine, 40 apps of
# the test bank: -j 4 gave 43.8 a minute, -j 2 28.4, with every check's
# status equal to -j 1's (also at -j 6). Timing verdicts are relative to the
# reference, and a slow download to the reference timed again beside it,
# which is why they hold under the batch's own load (docs/PERFORMANCE.md).
# The cores this process may use (a container's or a taskset's), not the host's.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
DEFAULT_JOBS = max(1, min(2 * CORES, 8))

COMMANDS = ("check", "watch", "try", "hint", "init", "batch", "merge", "gradescope", "sample-file")
EXIT_CODES = """exit codes:
  0    graded (whatever the score)
  1    the score is below --fail-under; a batch that could not go on
  2    bad usage: an unknown command or option, no app where one was named,
       init asked to write over files that are already there
  3    the grader itself could not run (a bug in streamgrade, not in your app)
  130  interrupted (Ctrl-C)"""


# A check id for the hint command's help: the first exercise's status check (tests/test_cli.py
# keeps it one that exists). Not read from the registry: building the parser would import every
# exercise's probes (0.1 s) before `check` starts the fork server, which the first app's start waits for.
HINT_EXAMPLE = f"{EXERCISES[0]}.status"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamgrade",
        description="Streaming exercises for FastAPI.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamgrade {__version__}")
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser(
        "check",
        help="grade an app (the default command)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("target", nargs="?", default=DEFAULT_TARGET, help=TARGET_HELP)
    # Hidden, as STREAMGRADE_BACKEND (which it sets, for the grading processes too): for tests and comparisons.
    check.add_argument("--backend", choices=launch.BACKENDS, help=argparse.SUPPRESS)
    check.add_argument("--json", metavar="PATH", help="also write the results as JSON (-: to standard output only)")
    check.add_argument(
        "--html", metavar="PATH", default="report.html", help="where to write the report (default report.html)"
    )
    check.add_argument("--no-html", action="store_true", help="don't write the HTML report")
    options.add_to_parser(check)  # the grading options: the plugin's, declared once
    check.add_argument(
        "--fail-under", type=float, metavar="SCORE", help="exit 1 when the score, extra credit included, is lower"
    )

    watch = commands.add_parser("watch", help="grade, then grade again on every save of your app")
    watch.add_argument("target", nargs="?", default=DEFAULT_TARGET, help=TARGET_HELP)
    watch.add_argument(
        "--exercise", choices=EXERCISES, help="grade only this exercise (default: the first one not at full marks)"
    )
    watch.add_argument(
        "--start-timeout", type=float, metavar="SECONDS", help="how long the app may take to start (default 20)"
    )
    watch.add_argument(
        "--hints",
        action="store_true",
        help="show a failure's whole hint, not only where to look (streamgrade hint CHECK_ID)",
    )

    attempt = commands.add_parser("try", help="start your app, send it a check's request, show what arrives")
    attempt.add_argument("exercise", choices=EXERCISES)
    attempt.add_argument("target", nargs="?", default=DEFAULT_TARGET, help=TARGET_HELP)

    hint = commands.add_parser("hint", help='the full hint for a check, after the report\'s "look at"')
    hint.add_argument("check_id", metavar="CHECK_ID", help=f"as the report names it, like {HINT_EXAMPLE}")

    batch = commands.add_parser("batch", help="grade a folder of submissions")
    batch.add_argument("submissions", help="a folder: one folder, .zip or .py per student")
    batch.add_argument("--out", required=True, help="where results go")
    batch.add_argument("--backend", choices=launch.BACKENDS, help=argparse.SUPPRESS)  # as for check
    batch.add_argument(
        "-j", "--jobs", type=int, default=DEFAULT_JOBS, help=f"submissions graded at once (default {DEFAULT_JOBS})"
    )
    batch.add_argument("--shard", metavar="K/N", help="grade only the K-th of N parts (for several machines)")
    batch.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    batch.add_argument("--config", metavar="PATH", help="grading.toml: points, hidden checks, exercises, limits")
    batch.add_argument("--reference", metavar="TARGET", help="the reference app to calibrate against")
    batch.add_argument(
        "--sandbox",
        choices=["auto", "isolate", "limits", "off"],
        help="how submissions run (default: grading.toml's, else auto: the most this machine allows)",
    )

    merge = commands.add_parser("merge", help="combine the outputs of shards into one")
    merge.add_argument("sources", nargs="+", help="the shards' OUT folders")
    merge.add_argument("--out", required=True)
    merge.add_argument("--config", metavar="PATH")

    gradescope = commands.add_parser("gradescope", help="grade inside a Gradescope autograder")
    gradescope.add_argument("--submission", default="/autograder/submission")
    gradescope.add_argument("--results", default="/autograder/results/results.json")
    gradescope.add_argument("--config", metavar="PATH")
    init = commands.add_parser("init", help="write a learner's kit: the exercise pages, starter/app.py, a README")
    init.add_argument("folder", nargs="?", default=".", help="where (default: this folder); made if missing")
    sample = commands.add_parser("sample-file", help="make a large file with no newline bytes")
    sample.add_argument("path", nargs="?", help="where (default: where the kit's app reads it when not told)")
    sample.add_argument("--size", default=DEFAULT_SAMPLE_SIZE, help="e.g. 64M, 256M, 1G (default 64M)")
    sample.add_argument(
        "--for-grading",
        action="store_true",
        help="make the grader's own 256 MiB file in its cache now (for an autograder image)",
    )
    return parser


class ResultCatcher:
    """Picks the GradeResult up from the grading session when pytest ends."""

    def __init__(self) -> None:
        self.result: GradeResult | None = None
        self.interrupted = False

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        session = config.pluginmanager.get_plugin("streamgrade-session")
        if session is not None:
            self.result, self.interrupted = session.result, session.interrupted


def grade(target: str, *, plugins: tuple[object, ...] = (), **values: Any) -> tuple[GradeResult | None, str]:
    """Run the checks against ``target``; return the result and pytest's own output.

    ``values``: the grading options (``grader.options``, by ``dest``: ``exercise``, ``seed``...).
    ``plugins``: more pytest plugins for this run (watch mode's grading process waits in one).
    """
    import pytest

    from grader.plugin import CHECKS_DIR, REFERENCE_APP

    values = {"reference": str(REFERENCE_APP), **{key: value for key, value in values.items() if value is not None}}
    arguments = [
        str(CHECKS_DIR),
        *(str(exercise.checks) for exercise in registry()),
        "-c",
        str(CHECKS_DIR / "pytest.ini"),
        "--rootdir",
        str(CHECKS_DIR),
        "-q",
        "--no-header",
        "-p",
        "no:cacheprovider",
        # Its end runs gc.collect() five times to find unraisable exceptions nobody
        # reads here: 0.1 to 0.6 s between the last check and the verdict.
        "-p",
        "no:unraisableexception",
        "--streamgrade-target",
        target,
        *options.arguments(values, options.PLUGIN_PREFIX),
    ]
    catcher = ResultCatcher()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        pytest.main(arguments, plugins=[catcher, *plugins])
    if catcher.interrupted:
        raise KeyboardInterrupt  # pytest caught it and stopped every server on the way out
    return catcher.result, output.getvalue()


@contextlib.contextmanager
def sweeping(enabled: bool):
    """In a process that only grades (a batch's child, Gradescope): adopt what escapes, kill it at the end.

    Every app is stopped with its whole tree; this catches what an app
    orphaned by killing its own launcher. Not for a learner's ``check``,
    whose process may share its children with whatever started it.
    """
    if not enabled:
        yield
        return
    parent = os.getppid()
    launch.adopt_orphans()
    launch.keep_secrets()  # an app under limits runs as this user: it may not read this process
    launch.end_with_parent(parent)  # a killed batch leaves no grading process (nor its apps) running
    try:
        yield
    finally:
        launch.stop_orphans()


def kit_target(spec: str) -> str:
    """The learner's app when ``spec`` is the kit's folder (it has ``starter/app.py``, not ``app.py``)."""
    folder = Path(spec)
    if (
        ":" not in spec
        and folder.is_dir()
        and not (folder / "app.py").is_file()
        and (folder / DEFAULT_TARGET).is_file()
    ):
        return str(folder / DEFAULT_TARGET)
    return spec


def run_check(args: argparse.Namespace) -> int:
    from grader.hints import save_last
    from grader.render.html import render_html
    from grader.render.json import render_json
    from grader.render.terminal import printable, render_terminal

    args.target = kit_target(args.target)
    try:
        resolve_target(args.target)
        if args.reference:
            resolve_target(args.reference)
    except TargetError as error:
        if args.target == DEFAULT_TARGET and not args.reference:
            print(
                f"streamgrade: {error}\n"
                "Run it from the kit's folder, or name your app: streamgrade check path/to/app.py",
                file=sys.stderr,
            )
        else:
            print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    # Absolute paths: the grading run resolves them from another folder.
    target = str(Path(args.target).resolve()) if ":" not in args.target else args.target
    try:
        with sweeping(args.sandbox != "off"):
            result, output = grade(target, **options.values_of(args))
    except KeyboardInterrupt:
        kept = (
            ""
            if args.no_html or not Path(args.html).exists()
            else f" {args.html} is the previous run's, left as it was."
        )
        print(
            f"\nstreamgrade: interrupted, so there is no score. Every server it started is stopped.{kept}",
            file=sys.stderr,
        )
        return 130
    if result is None:
        print("streamgrade: the grader could not run. This is a bug in streamgrade, not in your app.", file=sys.stderr)
        print(printable(output[-4000:]), file=sys.stderr)
        return 3
    # With --json -, standard output carries the JSON alone (for a pipe); what a person reads goes to stderr.
    text_out = sys.stderr if args.json == "-" else sys.stdout
    unicode = (text_out.encoding or "").lower().replace("-", "") in ("utf8", "utf16")
    print(render_terminal(result, unicode=unicode), end="", file=text_out)
    if args.reference_recording is None:  # a learner's own grade, not one of a batch's
        save_last(result)  # for `streamgrade hint`
    # Nothing judged because the grader failed: a score of 0/0 with exit 0 would read as graded,
    # and a report of errors would replace the last real one.
    unjudged = not any(check.counted for check in result.checks) and any(c.status == "error" for c in result.checks)
    if not args.no_html and not unjudged:
        try:
            write_atomically(Path(args.html), render_html(result))
            print(f"Report: {Path(args.html).resolve()}", file=text_out)
        except Exception as error:  # a report bug must not cost the learner their results
            print(
                f"streamgrade: the HTML report could not be written ({type(error).__name__}: {error}); "
                "this is a bug in streamgrade. The results above are complete.",
                file=sys.stderr,
            )
    if args.json == "-":
        sys.stdout.write(render_json(result))
        sys.stdout.flush()
    elif args.json:
        write_atomically(Path(args.json), render_json(result))
        print(f"Results written to {args.json}")
    if unjudged:
        kept = (
            ""
            if args.no_html or not Path(args.html).exists()
            else f" {args.html} is the previous run's, left as it was."
        )
        print(
            "streamgrade: the grader could not judge your app (see the errors above). This is a bug in "
            f"streamgrade or a problem with this machine, not your app.{kept}",
            file=sys.stderr,
        )
        return 3
    if args.fail_under is not None and result.total < args.fail_under:
        return 1
    return 0


def run_watch(args: argparse.Namespace) -> int:
    from grader.watch import WatchOptions, watch  # watchfiles only for this command

    label = kit_target(args.target)
    try:
        target = resolve_target(label)
    except TargetError as error:
        print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    absolute = str(Path(label).resolve()) if ":" not in label else label
    options = WatchOptions(absolute, label, target.app_dir, args.exercise, args.start_timeout, args.hints)
    return watch(options)


def run_try_command(args: argparse.Namespace) -> int:
    from grader.files import cache_dir
    from grader.tryit import Attempt, run_try

    label = kit_target(args.target)
    try:
        resolve_target(label)
    except TargetError as error:
        print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    served = exercise_named(args.exercise).sample
    sample = None
    if served is not None:
        # The learner's own sample file when they made one, else the grader's (made once, kept in the cache).
        sample = Path(served.kit_path)
        if not sample.is_file():
            cache_dir().mkdir(parents=True, exist_ok=True)
            sample = served.cached(cache_dir())[0]
        sample = sample.resolve()
    return run_try(Attempt(args.exercise, label, sample))


def run_hint_command(args: argparse.Namespace) -> int:
    from grader.hints import show_hint

    return show_hint(args.check_id)


def parse_shard(text: str) -> tuple[int, int]:
    index, slash, count = text.partition("/")
    if not slash or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"--shard {text}: expected K/N with 1 <= K <= N, like 2/4")
    return int(index), int(count)


def run_batch_command(args: argparse.Namespace) -> int:
    # Imported here: `streamgrade check`, the learner's everyday command, starts faster without them.
    from grader.batch.config import ConfigError, load_config
    from grader.batch.progress import Progress
    from grader.batch.runner import BatchOptions, Interrupted, Sandbox, run_batch
    from grader.launch import resolve_level
    from grader.plugin import REFERENCE_APP

    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"streamgrade: {submissions}: not a folder of submissions", file=sys.stderr)
        return 2
    try:
        config = load_config(Path(args.config) if args.config else None)
        shard = parse_shard(args.shard) if args.shard else None
        reference = args.reference or str(REFERENCE_APP)
        resolve_target(reference)
    except (ConfigError, ValueError, TargetError) as error:
        print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    try:
        level, problem = resolve_level(args.sandbox or config.sandbox)
    except RuntimeError as error:
        print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    print(SANDBOX_SUMMARY[level] + (f" (not isolated: {problem})" if problem else ""))
    options = BatchOptions(
        submissions=submissions.resolve(),
        out=Path(args.out).resolve(),
        reference=reference,
        config=config,
        jobs=max(1, args.jobs),
        shard=shard,
        force=args.force,
        sandbox=Sandbox(level, problem),
    )
    progress = Progress()
    try:
        outcomes = run_batch(options, progress)
    except RuntimeError as error:
        print(f"\nstreamgrade: {error}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt):
        progress.finish()
        print(
            "Interrupted. Every submission graded so far is saved; run the same command again to go on.",
            file=sys.stderr,
        )
        return 130
    progress.finish()
    graded = sum(not outcome.reused for outcome in outcomes)
    print(f"{len(outcomes)} submissions: {graded} graded, {len(outcomes) - graded} unchanged and kept.")
    print(f"Class summary: {(Path(args.out) / 'index.html').resolve()}")
    return 0


def run_merge_command(args: argparse.Namespace) -> int:
    from grader.batch.config import ConfigError, load_config
    from grader.batch.runner import merge

    try:
        config = load_config(Path(args.config) if args.config else None)
        count = merge([Path(source) for source in args.sources], Path(args.out), config)
    except (ConfigError, ValueError, OSError) as error:
        print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    print(f"Merged {count} submissions into {args.out}.")
    return 0


def run_gradescope_command(args: argparse.Namespace) -> int:
    """Inside Gradescope's container: grade /autograder/submission, write its results.json.

    A submission that can't be graded (no app.py, a broken zip) gets its
    result like any other. When the grader itself fails (a broken install,
    a bad grading.toml, nothing could be judged), results.json says why,
    for the instructor, and the exit status is 3: never 0 points with exit 0.
    """
    from grader.batch.config import ConfigError, load_config
    from grader.batch.runner import apply_config, unusable_result
    from grader.batch.submissions import Submission, SubmissionError, prepare
    from grader.launch import resolve_level
    from grader.render.gradescope import render_gradescope
    from grader.render.terminal import render_terminal

    results_path = Path(args.results)
    try:
        config = load_config(Path(args.config) if args.config else None)
    except ConfigError as error:
        return gradescope_failed(results_path, f"The grading configuration is not usable: {error}")
    with tempfile.TemporaryDirectory(prefix="streamgrade-gradescope-") as scratch:
        submission = Submission("submission", Path(args.submission))
        try:
            app_path = prepare(submission, Path(scratch) / "files")
        except SubmissionError as error:  # the student's: graded as unusable, like in a batch
            result = unusable_result(submission, f"This submission could not be graded: {error}.", config)
        else:
            try:
                level, problem = resolve_level(config.sandbox)
                with sweeping(level != "off"):
                    graded, output = grade(
                        str(app_path),
                        exercise=list(config.exercises),
                        start_timeout=config.start_timeout,
                        sandbox=level,
                        limits=config.limits.to_json(),
                        isolation_problem=problem,
                    )
            except RuntimeError as error:  # isolation required by grading.toml, not available here
                return gradescope_failed(results_path, f"The sandbox grading.toml asks for is not available: {error}")
            except Exception as error:  # a bug: the instructor needs the traceback, the student a fair message
                return gradescope_failed(
                    results_path, f"The grader crashed ({type(error).__name__}: {error}).", traceback.format_exc()
                )
            if graded is None:
                return gradescope_failed(results_path, "The grader could not run.", output[-4000:])
            result = graded
            if result.checks and not any(check.counted for check in result.checks):
                return gradescope_failed(
                    results_path,
                    "No check could be judged in this run, so no grade was given: " + " ".join(result.notes),
                    render_terminal(result, unicode=False),
                )
        apply_config(result, config)
    write_atomically(results_path, render_gradescope(result))
    print(render_terminal(result, unicode=False), end="")
    return 0


def gradescope_failed(results_path: Path, reason: str, details: str = "") -> int:
    """Write a results.json that says the grader failed and why; exit 3 so Gradescope marks the run failed."""
    from grader.render.gradescope import render_grader_failure

    write_atomically(results_path, render_grader_failure(reason, details))
    # Gradescope shows standard output to instructors only (stdout_visibility: hidden).
    print(f"streamgrade: {reason}\n{details}".rstrip(), file=sys.stdout)
    print(f"streamgrade: {reason} (written to {results_path})", file=sys.stderr)
    return 3


def fresh_folder(taken: Path) -> str:
    """A folder that does not exist yet, to suggest instead of the one refused (a new one inside it, or beside it)."""
    here = Path.cwd().resolve()
    inside = taken.resolve() == here
    base = "my-streaming" if inside else taken.resolve().name
    parent = here if inside else taken.resolve().parent
    name, number = base, 2
    while (parent / name).exists():
        name, number = f"{base}-{number}", number + 1
    return name if parent == here else str(parent / name)


def run_init_command(args: argparse.Namespace) -> int:
    """Write the learner's kit from the installed package, overwriting nothing."""
    from grader.kit import KitExists, write_kit

    folder = Path(args.folder)
    try:
        written = write_kit(folder)
    except KitExists as refused:
        where = "this folder" if folder.resolve() == Path.cwd().resolve() else str(folder)
        print(
            f"streamgrade: {where} already has {', '.join(refused.existing)}; nothing was written, "
            f"so your work there is safe.\nStart in a new folder instead: streamgrade init {fresh_folder(folder)}",
            file=sys.stderr,
        )
        return 2
    except OSError as error:
        print(f"streamgrade: could not write the kit in {folder}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"Wrote {len(written)} files in {folder.resolve()}: " + ", ".join(written) + ".")
    step = f"cd {folder} && " if folder.resolve() != Path.cwd().resolve() else ""
    print(f"Start with: {step}streamgrade    (then read {registry()[0].page}, and README.md)")
    return 0


def mistyped_command(word: str) -> str | None:
    """The command ``word`` was likely meant to be, when it is neither a command nor a target.

    A target is a path, a ``.py`` file or ``module:attribute``: a word that
    names an existing file or folder, or has a dot, slash or colon, is one.
    """
    if word in COMMANDS or word.startswith("-") or any(mark in word for mark in "./:\\") or Path(word).exists():
        return None
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (suggestion := mistyped_command(argv[0])):
        print(
            f"streamgrade: there is no command {argv[0]!r}; did you mean {suggestion}?\n"
            f"  streamgrade {' '.join([suggestion, *argv[1:]])}",
            file=sys.stderr,
        )
        return 2
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv.insert(0, "check")  # `streamgrade` alone, or with a target, means check
    args = parser.parse_args(argv)
    # A SIGTERM (a batch's time limit, a CI runner) unwinds like Ctrl-C, so the
    # app's servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if getattr(args, "backend", None):
        os.environ[launch.BACKEND_VARIABLE] = args.backend
        launch.backend_name.cache_clear()
    if args.command in ("check", "batch", "gradescope"):
        try:
            launch.backend_name()  # STREAMGRADE_BACKEND names one this system can run
        except launch.BackendError as error:
            print(f"streamgrade: {error}", file=sys.stderr)
            return 2
    if args.command == "check":
        # Its imports (about 0.4 s of CPU) now overlap this process's own, not the first app's start.
        launch.prepare()
        return run_check(args)
    if args.command == "watch":
        return run_watch(args)
    if args.command == "try":
        return run_try_command(args)
    if args.command == "hint":
        return run_hint_command(args)
    if args.command == "batch":
        return run_batch_command(args)
    if args.command == "merge":
        return run_merge_command(args)
    if args.command == "gradescope":
        return run_gradescope_command(args)
    if args.command == "init":
        return run_init_command(args)
    if args.command == "sample-file" and args.for_grading:
        from grader.samplefile import sample_folder

        with tempfile.TemporaryDirectory(prefix="streamgrade-sample-") as scratch:
            folder = sample_folder(Path(scratch))
            for served in samples():
                cached, _ = served.cached(folder)
                print(f"The grader's sample file is ready: {cached}")
        return 0
    if args.command == "sample-file":
        from grader.samplefile import parse_size, write_sample_file

        try:
            size = parse_size(args.size)
        except ValueError as error:
            parser.error(str(error))
        served = samples()[0]
        path = Path(args.path or served.kit_path)
        try:
            digest = write_sample_file(path, size)
        except OSError as error:
            print(f"streamgrade: could not write {path}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"Wrote {size:,} bytes to {path} (sha256 {digest}).")
        print(f"Serve it with: {served.variable}={path} uvicorn starter.app:app")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())


def run() -> NoReturn:
    """The program (``streamgrade``, ``python -m grader``): ``main``, then the process ends at once.

    Python's own finalization frees the objects of pytest, the checks and
    the openai package one by one: 0.25 s after every grade, which a learner
    and a batch wait for, and nothing in it is needed here. The results are
    written, every server is stopped (each grade stops its own; the fork
    server ends when this process's end of its socket closes), and the
    threads left are idle pools and log readers. The exit handlers still
    run (temporary folders, logging).
    """
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader that has gone
            stream.flush()
    os._exit(code)
