"""The ``streamgrade`` command."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import pytest

from grader import __version__
from grader.plugin import CHECKS_DIR, REFERENCE_APP
from grader.probes.run import EXERCISES
from grader.render.html import render_html
from grader.render.json import render_json
from grader.render.terminal import render_terminal
from grader.results import GradeResult
from grader.samplefile import parse_size, write_sample_file
from grader.server import TargetError, resolve_target

DEFAULT_SAMPLE_PATH = "sample-data/bigfile.bin"
DEFAULT_SAMPLE_SIZE = "64M"

DEFAULT_TARGET = "starter/app.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamgrade", description="Streaming exercises for FastAPI.")
    parser.add_argument("--version", action="version", version=f"streamgrade {__version__}")
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser("check", help="grade an app (the default command)")
    check.add_argument("target", nargs="?", default=DEFAULT_TARGET,
                       help="app.py, a folder holding app.py, or module:attribute (default: starter/app.py)")
    check.add_argument("--exercise", action="append", choices=EXERCISES, help="grade only this exercise")
    check.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    check.add_argument("--html", metavar="PATH", default="report.html", help="where to write the report (default report.html)")
    check.add_argument("--no-html", action="store_true", help="don't write the HTML report")
    check.add_argument("--reference", metavar="TARGET", help="the reference app to calibrate against")
    check.add_argument("--seed", type=int, help="seed for the prompts picked per run (to repeat a run)")
    check.add_argument("--fail-under", type=float, metavar="SCORE", help="exit 1 when the score is lower")
    check.add_argument("--start-timeout", type=float, metavar="SECONDS",
                       help="how long the app may take to start (default 20)")  # fmt: skip
    sample = commands.add_parser("sample-file", help="make a large file with no newline bytes")
    sample.add_argument("path", nargs="?", default=DEFAULT_SAMPLE_PATH)
    sample.add_argument("--size", default=DEFAULT_SAMPLE_SIZE, help="e.g. 64M, 256M, 1G (default 64M)")
    return parser


class ResultCatcher:
    """Picks the GradeResult up from the grading session when pytest ends."""

    def __init__(self) -> None:
        self.result: GradeResult | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        session = config.pluginmanager.get_plugin("streamgrade-session")
        if session is not None:
            self.result = session.result


def grade(target: str, *, exercises: list[str] | None = None, reference: str | None = None,
          seed: int | None = None, start_timeout: float | None = None) -> tuple[GradeResult | None, str]:  # fmt: skip
    """Run the checks against ``target``; return the result and pytest's own output."""
    arguments = [
        str(CHECKS_DIR), "-c", str(CHECKS_DIR / "pytest.ini"), "--rootdir", str(CHECKS_DIR),
        "-q", "--no-header", "-p", "no:cacheprovider",
        "--streamgrade-target", target,
        "--streamgrade-reference", reference or str(REFERENCE_APP),
    ]  # fmt: skip
    for exercise in exercises or []:
        arguments += ["--streamgrade-exercise", exercise]
    if seed is not None:
        arguments += ["--streamgrade-seed", str(seed)]
    if start_timeout is not None:
        arguments += ["--streamgrade-start-timeout", str(start_timeout)]
    catcher = ResultCatcher()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        pytest.main(arguments, plugins=[catcher])
    return catcher.result, output.getvalue()


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        resolve_target(args.target)
        if args.reference:
            resolve_target(args.reference)
    except TargetError as error:
        if args.target == DEFAULT_TARGET and not args.reference:
            print(f"streamgrade: {error}\nRun it from the kit's folder, or name your app: streamgrade check path/to/app.py",
                  file=sys.stderr)  # fmt: skip
        else:
            print(f"streamgrade: {error}", file=sys.stderr)
        return 2
    # Absolute paths: the grading run resolves them from another folder.
    target = str(Path(args.target).resolve()) if ":" not in args.target else args.target
    result, output = grade(
        target, exercises=args.exercise, reference=args.reference, seed=args.seed, start_timeout=args.start_timeout
    )
    if result is None:
        print("streamgrade: the grader could not run. This is a bug in streamgrade, not in your app.", file=sys.stderr)
        print(output[-4000:], file=sys.stderr)
        return 3
    unicode = (sys.stdout.encoding or "").lower().replace("-", "") in ("utf8", "utf16")
    print(render_terminal(result, unicode=unicode), end="")
    if not args.no_html:
        try:
            write_output(Path(args.html), render_html(result))
            print(f"Report: {Path(args.html).resolve()}")
        except Exception as error:  # a report bug must not cost the learner their results
            print(f"streamgrade: the HTML report could not be written ({type(error).__name__}: {error}); "
                  "this is a bug in streamgrade. The results above are complete.", file=sys.stderr)  # fmt: skip
    if args.json:
        write_output(Path(args.json), render_json(result))
        print(f"Results written to {args.json}")
    if args.fail_under is not None and result.score < args.fail_under:
        return 1
    return 0


def write_output(path: Path, text: str) -> None:
    """Write atomically: a reader never sees half a report."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("check", "sample-file", "-h", "--help", "--version"):
        argv.insert(0, "check")  # `streamgrade` alone, or with a target, means check
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_check(args, parser)
    if args.command == "sample-file":
        try:
            size = parse_size(args.size)
        except ValueError as error:
            parser.error(str(error))
        path = Path(args.path)
        try:
            digest = write_sample_file(path, size)
        except OSError as error:
            print(f"streamgrade: could not write {path}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"Wrote {size:,} bytes to {path} (sha256 {digest}).")
        print(f"Serve it with: BIGFILE_PATH={path} uvicorn starter.app:app")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
