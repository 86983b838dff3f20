"""How fast, how precise and how stable the grader is. Prints a table, writes JSON.

    python bench/run.py [--quick] [--only PART] [--json bench/results.json]

Six measurements (docs/PERFORMANCE.md has the targets and the findings):
  latency    wall time of `streamgrade check` per app, against the floor of
             waits the contract imposes on the critical path
  watch      `streamgrade watch`: from a save to the verdict of one exercise,
             against that exercise's floor of waits
  batch      submissions per minute at -j 1, 2, 4, and verdicts equal to -j 1
  precision  the grader's arrival times minus the moment the app handed each
             piece to the server: the timed streams of every exercise that
             declares them (Exercise.timed), on the reference instrumented
  stability  verdicts under two busy-loop processes against the unloaded ones
  repeat     each bank app graded N times in a batch: the checks whose status
             is not the same in every run (the goal is 0)
  memory     measured growth against a known allocation

A measurement, not a test: the full run takes about a quarter of an hour.
--quick is a smoke run of every part (CI runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.cli import DEFAULT_JOBS  # noqa: E402
from grader.exercises import NAMES, TimedStream, registry  # noqa: E402
from grader.exercises.bigfile import probe as bigfile_probe  # noqa: E402
from grader.launch import features, resolve_target, running_app  # noqa: E402
from grader.timing import arrival_at_offsets  # noqa: E402

BANK = ROOT / "tests" / "bank"
APPS = ROOT / "bench" / "apps"
LATENCY_APPS = ["reference", "starter", "chat_time_sleep_async", "bigfile_read_all", "events_no_blank_line"]
STABILITY_APPS = [
    "reference",
    "chat_time_sleep_async",
    "chat_sleep_first",
    "events_leaks_after_disconnect",
    "bigfile_read_ahead",
]


def learners_python() -> None:
    """Grade as Python runs on a learner's machine: it keeps the grader's bytecode.

    Containers and CI images often set PYTHONDONTWRITEBYTECODE=1. Every
    grade then compiles the grader's modules from source and pytest rewrites
    the checks' assertions again: work a learner's grades skip after their
    first (a wheel's install compiles them at once). The apps never write
    bytecode either way: the grader sets the variable for their servers, so
    a learner's folder stays as it was.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def app_path(name: str) -> Path:
    return {"reference": ROOT / "reference" / "app.py", "starter": ROOT / "starter" / "app.py"}.get(
        name, BANK / f"{name}.py"
    )


def floor_seconds() -> dict[str, float]:
    """The waits a grading run can't avoid, from the probes' own constants (each exercise's floor)."""
    floors = [exercise.floor() for exercise in registry()]
    # The exercises run side by side in each phase: the longest wait counts.
    timing = max((floor.timing for floor in floors), default=0.0)
    heavy = max((floor.heavy for floor in floors), default=0.0)
    return {"phase1": timing, "phase2": heavy, "total": timing + heavy}


def exercise_floor_seconds() -> dict[str, float]:
    """The waits grading one exercise alone can't avoid (what `streamgrade watch` grades on a save)."""
    return {exercise.name: exercise.floor().alone for exercise in registry()}


# A learner edits for a few seconds between saves: the watch sets its next
# grading process up meanwhile (about 1 s of CPU, longer on a loaded
# machine). The bench waits this long after each verdict.
LEARNER_PAUSE = 4.0
# Only bounds a hang: a verdict takes seconds.
WATCH_LINE_TIMEOUT = 120.0


class WatchOutput:
    """The lines of one `streamgrade watch` process, and when each verdict line arrived."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.verdicts: list[float] = []
        self.arrived = threading.Condition()

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.arrived:
                self.lines.append(line)
                if line.startswith("Graded "):
                    self.verdicts.append(time.perf_counter())
                self.arrived.notify_all()

    def next_verdict(self, count: int) -> float:
        """The arrival time of the count-th verdict line, waiting for it."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.verdicts) >= count, WATCH_LINE_TIMEOUT):
                raise RuntimeError(f"no verdict from streamgrade watch:\n{''.join(self.lines)}")
            return self.verdicts[count - 1]


def measure_watch(saves: int, exercises: list[str], work: Path) -> dict:
    """From writing the app file to the watch's verdict line, per exercise, on the reference."""
    floors, rows = exercise_floor_seconds(), []
    for exercise in exercises:
        folder = work / f"watch-{exercise}"
        folder.mkdir()
        app = folder / "app.py"
        shutil.copyfile(app_path("reference"), app)
        # SIGINT as Ctrl-C even when this run was started with it ignored (a background job).
        ctrl_c = {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)} if os.name == "posix" else {}
        process = subprocess.Popen(
            [sys.executable, "-m", "grader", "watch", "app.py", "--exercise", exercise],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **ctrl_c,
        )
        # The reader's state is its own object, not names of this loop: a reader
        # still draining the previous exercise's output (join below has a
        # timeout) must not append its late "Graded" lines to this exercise.
        watch_output = WatchOutput(process)
        reader = threading.Thread(target=watch_output.read, daemon=True)
        reader.start()
        next_verdict = watch_output.next_verdict

        times = []
        stopped = True
        try:
            next_verdict(1)  # the first grade records the reference too: not a save's latency
            for index in range(saves):
                time.sleep(LEARNER_PAUSE)
                saved = time.perf_counter()
                app.write_text(app.read_text() + f"# save {index}\n")
                times.append(next_verdict(index + 2) - saved)
        finally:
            process.send_signal(2)  # Ctrl-C
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # A watch that Ctrl-C does not stop is a finding to report, not a reason to lose the others.
                stopped = False
                process.kill()
                process.wait()
            reader.join(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        median = statistics.median(times)
        rows.append(
            {
                "exercise": exercise,
                "stopped_on_ctrl_c": stopped,
                "floor": round(floors[exercise], 2),
                "median": round(median, 2),
                "min": round(min(times), 2),
                "max": round(max(times), 2),
                "over_floor": round(median - floors[exercise], 2),
            }
        )
    return {"saves": saves, "target_over_floor": 0.5, "exercises": rows}


def grade_once(target: Path, out: Path) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "check", str(target), "--no-html", "--json", str(out)]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    return seconds, {check["id"]: check["status"] for check in json.loads(out.read_text())["checks"]}


def second_looks(out: Path) -> list[str]:
    """The second-look notes of the grade whose results are in ``out``: a grade that took one waited for it."""
    return [note for note in json.loads(out.read_text())["notes"] if "recorded again" in note]


def measure_latency(runs: int, names: list[str], work: Path) -> dict:
    floor = floor_seconds()
    rows = []
    # Untimed: a learner's first grade writes the grader's bytecode (see learners_python) and
    # the sample file; the ones they wait for after it find both.
    grade_once(app_path("reference"), work / "latency-first.json")
    for name in names:
        times, looks = [], []
        for _ in range(runs):
            out = work / f"latency-{name}.json"
            times.append(grade_once(app_path(name), out)[0])
            looks += second_looks(out)
        median = statistics.median(times)
        rows.append(
            {
                "app": name,
                "median": round(median, 2),
                "min": round(min(times), 2),
                "max": round(max(times), 2),
                "ratio_to_floor": round(median / floor["total"], 2),
                "second_looks": looks,
            }
        )
    return {"floor": {key: round(value, 2) for key, value in floor.items()}, "runs": runs, "apps": rows}


def bank_apps() -> list[Path]:
    return sorted(path for path in BANK.glob("*.py") if not path.name.startswith("broken_import"))


def make_class(folder: Path, size: int) -> None:
    folder.mkdir(parents=True)
    bank = bank_apps()
    for index in range(size):
        source = bank[index % len(bank)]
        shutil.copyfile(source, folder / f"s{index:02d}_{source.name}")


def batch_verdicts(submissions: Path, out: Path, jobs: int) -> tuple[float, dict[str, dict[str, str]]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "-j", str(jobs), "--force"]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    verdicts = {}
    for results in sorted(out.glob("students/*/results.json")):
        checks = json.loads(results.read_text())["checks"]
        verdicts[results.parent.name] = {check["id"]: check["status"] for check in checks}
    expected = sum(1 for _ in submissions.iterdir())
    if len(verdicts) != expected:  # comparing no verdicts would find no difference
        raise RuntimeError(f"the batch left {len(verdicts)} results for {expected} submissions in {out}")
    return seconds, verdicts


def measure_batch(size: int, job_counts: list[int], work: Path) -> dict:
    submissions = work / "class"
    make_class(submissions, size)
    rows, baseline = [], None
    for jobs in job_counts:
        seconds, verdicts = batch_verdicts(submissions, work / f"batch-j{jobs}", jobs)
        baseline = baseline or verdicts
        differing = sum(
            verdicts.get(name, {}).get(check) != status
            for name, checks in baseline.items()
            for check, status in checks.items()
        )
        rows.append(
            {
                "jobs": jobs,
                "seconds": round(seconds, 1),
                "per_minute": round(size / seconds * 60, 1),
                "verdicts_differing_from_j1": differing,
            }
        )
    return {"submissions": size, "default_jobs": DEFAULT_JOBS, "runs": rows}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {
        "count": len(ordered),
        "p50_ms": round(pick(0.5) * 1000, 2),
        "p95_ms": round(pick(0.95) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def request_key(method: str, target: str, body_sha1: str) -> tuple:
    """One request, however its path and query were encoded: method, path, parameters, the body's digest."""
    split = urlsplit(target)
    return method, unquote(split.path), tuple(sorted(parse_qsl(split.query, keep_blank_values=True))), body_sha1


def read_hand_offs(log: Path) -> dict[tuple, list[list[tuple[int, int]]]]:
    """The instrumented app's log: per request key, each request's (bytes sent so far, wall clock ns), in order."""
    requests: dict[str, tuple[tuple, list[tuple[int, int]]]] = {}
    for line in log.read_text().splitlines():
        number, method, target, body_sha1, sent, at_ns = line.split()
        requests.setdefault(number, (request_key(method, target, body_sha1), []))[1].append((int(sent), int(at_ns)))
    by_key: dict[tuple, list[list[tuple[int, int]]]] = {}
    for key, sends in requests.values():
        by_key.setdefault(key, []).append(sends)
    return by_key


def stream_delays(stream: TimedStream, hand_offs: dict[tuple, list[list[tuple[int, int]]]]) -> list[float]:
    """For each piece of ``stream``: when the grader saw its last byte minus when the app handed that byte over."""
    exchange = stream.exchange
    key = request_key(exchange.method, exchange.path, hashlib.sha1(exchange.request_body).hexdigest())
    matching = hand_offs.get(key, [])
    if len(matching) != 1:  # not logged, or the same request sent twice: which answer is which can't be told
        return []
    sends, delays = matching[0], []
    for end, at in zip(stream.ends, arrival_at_offsets(exchange.chunks, stream.ends), strict=True):
        # The piece is complete with the first part the app sent that reaches its end.
        handed = next((at_ns for sent, at_ns in sends if sent >= end), None)
        if handed is not None and exchange.received >= end:
            delays.append(exchange.sent_wall + at - handed / 1e9)
    return delays


def measure_precision(repeats: int, work: Path) -> dict:
    """Arrival time recorded by the grader's own probes minus when the app handed the piece to its server.

    Every exercise that declares timed streams (``Exercise.timed``), probed
    on the reference wrapped by an app that logs each hand-off.
    """
    timed = {exercise.name: exercise.timed for exercise in registry() if exercise.timed is not None}
    delays: dict[str, list[float]] = {name: [] for name in timed}
    for repeat in range(repeats):
        log = work / f"handed-{repeat}.log"
        log.write_text("")
        target = resolve_target(str(APPS / "instrumented.py"))
        with running_app(target, env={"STREAMGRADE_BENCH_LOG": str(log)}) as app:
            streams = {name: asyncio.run(probe(app.base_url, random.Random(repeat))) for name, probe in timed.items()}
        hand_offs = read_hand_offs(log)
        for name, recorded in streams.items():
            for stream in recorded:
                delays[name] += stream_delays(stream, hand_offs)
    return {name: percentiles(values) for name, values in delays.items()}


@contextmanager
def busy_cores(count: int):
    """Processes spinning on the CPU, as on a machine doing something else."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def measure_stability(repeats: int, names: list[str], work: Path) -> dict:
    unloaded = {name: grade_once(app_path(name), work / f"stable-{name}.json")[1] for name in names}
    flips = []
    with busy_cores(2):
        for repeat in range(repeats):
            for name in names:
                _, verdicts = grade_once(app_path(name), work / f"loaded-{name}.json")
                flips += [
                    {"app": name, "run": repeat + 1, "check": check, "unloaded": status, "loaded": verdicts.get(check)}
                    for check, status in unloaded[name].items()
                    if verdicts.get(check) != status
                ]
    return {
        "apps": names,
        "runs_per_app": repeats,
        "verdicts": sum(len(v) for v in unloaded.values()) * repeats,
        "flips": flips,
    }


def check_message(out: Path, student: str, check: str) -> str:
    """What one check said for one student in a batch's output (empty when it said nothing)."""
    results = out / "students" / student / "results.json"
    try:
        checks = json.loads(results.read_text())["checks"]
    except (OSError, ValueError, KeyError):
        return ""
    return next((row.get("message") or "" for row in checks if row["id"] == check), "")


def measure_repeatability(repeats: int, size: int, work: Path) -> dict:
    """Grade the same class ``repeats`` times: every check whose status is not the same in every run."""
    submissions = work / "repeat-class"
    make_class(submissions, size)
    outs = [work / f"repeat-{run}" for run in range(repeats)]
    runs = [batch_verdicts(submissions, out, DEFAULT_JOBS)[1] for out in outs]
    unstable = []
    for student, checks in runs[0].items():
        for check in checks:
            seen = [run.get(student, {}).get(check) for run in runs]
            if len(set(seen)) > 1:
                # What each run said: a flip the bench can't explain is one nobody can fix.
                said = [check_message(out, student, check) for out in outs]
                unstable.append({"app": student, "check": check, "statuses": seen, "messages": said})
    return {
        "apps": size,
        "runs_per_app": repeats,
        "jobs": DEFAULT_JOBS,
        "checks": sum(len(checks) for checks in runs[0].values()),
        "unstable": unstable,
    }


def measure_memory(sizes_mib: list[int]) -> dict:
    rows = []
    for size in sizes_mib:
        target = resolve_target(str(APPS / "allocate.py"))
        with running_app(target, env={"STREAMGRADE_BENCH_ALLOCATE_MIB": str(size)}) as app:

            async def fetch():
                return await bigfile_probe.download(app.base_url, app.meter, give_up_after=lambda: 30.0)

            download = asyncio.run(fetch())
        measured = download.memory.growth / 2**20 if download.memory else float("nan")
        error = measured - size
        rows.append(
            {
                "allocated_mib": size,
                "measured_mib": round(measured, 2),
                "error_mib": round(error, 2),
                "error_share": round(error / size, 3),
                "within_target": abs(error) <= max(2.0, 0.1 * size),
            }
        )
    return {"runs": rows}


def measure_backends(runs: int, sizes: list[int], work: Path) -> dict:
    """Time per grade of the reference, and the memory measured for a known allocation, with each backend.

    The Linux backend's memory figure is the kernel's peak, reset before the
    download; the portable backend's is the largest of its samples. Their
    difference is the sampling's error.
    """
    backends = [name for name in features.BACKENDS if name != "linux" or not features.detect().missing_for_linux()]
    times: dict[str, list[float]] = {name: [] for name in backends}
    memory: dict[str, dict[int, float]] = {}
    previous = os.environ.get(features.BACKEND_VARIABLE)
    try:
        # Alternating, so a busier moment of the machine costs both backends alike.
        for _ in range(runs):
            for backend in backends:
                os.environ[features.BACKEND_VARIABLE] = backend  # the grading process inherits it
                times[backend].append(grade_once(app_path("reference"), work / f"backend-{backend}.json")[0])
        for backend in backends:
            os.environ[features.BACKEND_VARIABLE] = backend  # this process's own launches
            features.backend_name.cache_clear()
            memory[backend] = {row["allocated_mib"]: row["measured_mib"] for row in measure_memory(sizes)["runs"]}
        rows = {
            backend: {
                "median": round(statistics.median(times[backend]), 2),
                "min": round(min(times[backend]), 2),
                "max": round(max(times[backend]), 2),
                "memory_mib": memory[backend],
            }
            for backend in backends
        }
    finally:
        if previous is None:
            os.environ.pop(features.BACKEND_VARIABLE, None)
        else:
            os.environ[features.BACKEND_VARIABLE] = previous
        features.backend_name.cache_clear()
    if "linux" in rows:
        rows["portable"]["sampled_error_mib"] = {
            size: round(rows["portable"]["memory_mib"][size] - exact, 2)
            for size, exact in rows["linux"]["memory_mib"].items()
        }
    return {"runs": runs, "backends": rows}


def print_latency(latency: dict) -> None:
    print(f"Latency (median of {latency['runs']}; floor {latency['floor']['total']} s)")
    for row in latency["apps"]:
        print(
            f"  {row['app']:<28} {row['median']:>6.2f} s  (min {row['min']:.2f}, max {row['max']:.2f})  "
            f"{row['ratio_to_floor']:.2f}x floor"
        )
        for note in row["second_looks"]:
            print(f"    a second look: {note}")


def print_watch(watch: dict) -> None:
    print(f"Watch: a save to its verdict (median of {watch['saves']}; target floor + {watch['target_over_floor']} s)")
    for row in watch["exercises"]:
        print(
            f"  {row['exercise']:<28} {row['median']:>6.2f} s  (min {row['min']:.2f}, max {row['max']:.2f})  "
            f"floor {row['floor']:.2f} s, +{row['over_floor']:.2f} s"
        )
        if not row.get("stopped_on_ctrl_c", True):
            print(
                f"  WARNING: streamgrade watch --exercise {row['exercise']} did not stop within 60 s of Ctrl-C "
                "(killed); that is a bug to find"
            )


def print_batch(batch: dict) -> None:
    print(f"Batch ({batch['submissions']} submissions)")
    for row in batch["runs"]:
        default = " (the default)" if row["jobs"] == batch.get("default_jobs") else ""
        print(
            f"  -j {row['jobs']}: {row['seconds']:>6.1f} s  {row['per_minute']:>5.1f}/min  "
            f"verdicts differing from -j 1: {row['verdicts_differing_from_j1']}{default}"
        )


def print_precision(precision: dict) -> None:
    print("Timing precision (grader's arrival minus the app's hand-off)")
    for kind, row in precision.items():
        print(
            f"  {kind:<12} n={row.get('count', 0)}  p50 {row.get('p50_ms')} ms  p95 {row.get('p95_ms')} ms  "
            f"max {row.get('max_ms')} ms"
        )


def print_stability(stability: dict) -> None:
    print(f"Stability under load: {len(stability['flips'])} flips in {stability['verdicts']} verdicts")


def print_backends(backends: dict) -> None:
    print(f"Backends (median of {backends['runs']} gradings of the reference; memory for a known allocation)")
    for name, row in backends["backends"].items():
        print(
            f"  {name:<9} {row['median']:>6.2f} s  (min {row['min']:.2f}, max {row['max']:.2f})  "
            f"measured MiB: {row['memory_mib']}  sampled error MiB: {row.get('sampled_error_mib', '-')}"
        )


def print_repeat(repeat: dict) -> None:
    print(
        f"Repeat stability ({repeat['apps']} apps graded {repeat['runs_per_app']} times at -j {repeat['jobs']}): "
        f"{len(repeat['unstable'])} of {repeat['checks']} checks not the same in every run"
    )
    for row in repeat["unstable"]:
        print(f"  {row['app']} {row['check']}: {', '.join(map(str, row['statuses']))}")
        for run, message in enumerate(row.get("messages", []), start=1):
            if message:
                print(f"    run {run}: {message}")


def print_memory(memory: dict) -> None:
    print("Memory accuracy")
    for row in memory["runs"]:
        print(
            f"  allocated {row['allocated_mib']} MiB, measured {row['measured_mib']} MiB "
            f"(error {row['error_mib']:+} MiB, {'within' if row['within_target'] else 'OUTSIDE'} target)"
        )


PRINTERS = {
    "latency": print_latency,
    "watch": print_watch,
    "batch": print_batch,
    "precision": print_precision,
    "stability": print_stability,
    "repeat": print_repeat,
    "memory": print_memory,
    "backends": print_backends,
}


ON_REQUEST = {"backends"}  # parts run only when named with --only


def parts(quick: bool, work: Path) -> dict:
    """Each measurement, to run when asked for: (quick run, full run)."""
    return {
        "latency": lambda: measure_latency(1, ["reference"], work) if quick else measure_latency(5, LATENCY_APPS, work),
        # Every registered exercise (the quick run: the first one).
        "watch": lambda: measure_watch(1, list(NAMES[:1]), work) if quick else measure_watch(5, list(NAMES), work),
        "batch": lambda: (
            measure_batch(4, [1, 2], work) if quick else measure_batch(40, sorted({1, 2, 4, DEFAULT_JOBS}), work)
        ),
        "precision": lambda: measure_precision(1 if quick else 5, work),
        "stability": lambda: (
            measure_stability(1, ["reference"], work) if quick else measure_stability(10, STABILITY_APPS, work)
        ),
        "repeat": lambda: (
            measure_repeatability(2, 6, work) if quick else measure_repeatability(5, len(bank_apps()), work)
        ),
        "memory": lambda: measure_memory([64] if quick else [32, 64, 128]),
        # Only when asked for (--only backends): it grades the reference again with each backend.
        "backends": lambda: measure_backends(1 if quick else 7, [64] if quick else [32, 64, 128, 256], work),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part")
    parser.add_argument("--only", action="append", choices=list(PRINTERS), help="run only this part (repeatable)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    learners_python()
    with tempfile.TemporaryDirectory(prefix="streamgrade-bench-") as scratch:
        measurements = parts(args.quick, Path(scratch))
        wanted = args.only or [name for name in measurements if name not in ON_REQUEST]
        report = {name: measure() for name, measure in measurements.items() if name in wanted}
    for name, section in report.items():
        PRINTERS[name](section)
    report["quick"] = args.quick
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {args.json}")


if __name__ == "__main__":
    main()
