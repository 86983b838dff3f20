"""How fast, how precise and how stable the grader is. Prints a table, writes JSON.

    python bench/run.py [--quick] [--json bench/results.json]

Five measurements (docs/PERFORMANCE.md has the targets and the findings):
  latency    wall time of `streamgrade check` per app, against the floor of
             waits the contract imposes on the critical path
  batch      submissions per minute at -j 1, 2, 4, and verdicts equal to -j 1
  precision  the grader's arrival times minus the moment an instrumented app
             handed each piece to the server
  stability  verdicts under two busy-loop processes against the unloaded ones
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
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import sse  # noqa: E402
from grader.cli import DEFAULT_JOBS  # noqa: E402
from grader.launch.server import resolve_target, running_app  # noqa: E402
from grader.probes import bigfile as bigfile_probe  # noqa: E402
from grader.probes import chat as chat_probe  # noqa: E402
from grader.probes import events as events_probe  # noqa: E402
from grader.probes.http import local_client  # noqa: E402
from grader.timing import arrival_at_offsets, bursts  # noqa: E402

BANK = ROOT / "tests" / "bank"
APPS = ROOT / "bench" / "apps"
LATENCY_APPS = ["reference", "starter", "chat_time_sleep_async", "bigfile_read_all", "events_no_blank_line"]
STABILITY_APPS = ["reference", "chat_time_sleep_async", "chat_sleep_first", "events_leaks_after_disconnect",
                  "bigfile_read_ahead"]  # fmt: skip


def app_path(name: str) -> Path:
    return {"reference": ROOT / "reference" / "app.py", "starter": ROOT / "starter" / "app.py"}.get(
        name, BANK / f"{name}.py"
    )


def floor_seconds() -> dict[str, float]:
    """The waits a grading run can't avoid, from the probes' own constants."""
    chat = (chat_probe.TIMING_TOKENS - 1 + chat_probe.CONCURRENT_TOKENS - 1) * chat_probe.TIMING_DELAY
    events = (events_probe.TIMING_COUNT - 1 + events_probe.CONCURRENT_COUNT - 1) * events_probe.TIMING_INTERVAL
    disconnect = 2 * events_probe.CPU_WINDOW + 0.1  # streaming window, settle, quiet window
    downloads = bigfile_probe.SLOW_READ_PAUSE
    # Phase 1 runs chat and events side by side; phase 2 the downloads and the disconnect probe.
    return {"phase1": max(chat, events), "phase2": max(disconnect, downloads),
            "total": max(chat, events) + max(disconnect, downloads)}  # fmt: skip


def grade_once(target: Path, out: Path) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "check", str(target), "--no-html", "--json", str(out)]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    return seconds, {check["id"]: check["status"] for check in json.loads(out.read_text())["checks"]}


def measure_latency(runs: int, names: list[str], work: Path) -> dict:
    floor = floor_seconds()
    rows = []
    for name in names:
        times = [grade_once(app_path(name), work / f"latency-{name}.json")[0] for _ in range(runs)]
        median = statistics.median(times)
        rows.append({"app": name, "median": round(median, 2), "min": round(min(times), 2), "max": round(max(times), 2),
                     "ratio_to_floor": round(median / floor["total"], 2)})  # fmt: skip
    return {"floor": {key: round(value, 2) for key, value in floor.items()}, "runs": runs, "apps": rows}


def make_class(folder: Path, size: int) -> None:
    folder.mkdir(parents=True)
    bank = sorted(path for path in BANK.glob("*.py") if not path.name.startswith("broken_import"))
    for index in range(size):
        source = bank[index % len(bank)]
        shutil.copyfile(source, folder / f"s{index:02d}_{source.name}")


def batch_verdicts(submissions: Path, out: Path, jobs: int) -> tuple[float, dict[str, dict[str, str]]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "-j", str(jobs), "--force"]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    verdicts = {}
    for results in sorted(out.glob("*/results.json")):
        checks = json.loads(results.read_text())["checks"]
        verdicts[results.parent.name] = {check["id"]: check["status"] for check in checks}
    return seconds, verdicts


def measure_batch(size: int, job_counts: list[int], work: Path) -> dict:
    submissions = work / "class"
    make_class(submissions, size)
    rows, baseline = [], None
    for jobs in job_counts:
        seconds, verdicts = batch_verdicts(submissions, work / f"batch-j{jobs}", jobs)
        baseline = baseline or verdicts
        differing = sum(verdicts.get(name, {}).get(check) != status
                        for name, checks in baseline.items() for check, status in checks.items())  # fmt: skip
        rows.append({"jobs": jobs, "seconds": round(seconds, 1), "per_minute": round(size / seconds * 60, 1),
                     "verdicts_differing_from_j1": differing})  # fmt: skip
    return {"submissions": size, "default_jobs": DEFAULT_JOBS, "runs": rows}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {"count": len(ordered), "p50_ms": round(pick(0.5) * 1000, 2), "p95_ms": round(pick(0.95) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}  # fmt: skip


def measure_precision(repeats: int, work: Path) -> dict:
    """Arrival time recorded by the grader's own probes minus when the app yielded the piece."""
    chat_delays, event_delays = [], []
    for repeat in range(repeats):
        log = work / f"handed-{repeat}.log"
        log.write_text("")
        target = resolve_target(str(APPS / "instrumented.py"))
        with running_app(target, env={"STREAMGRADE_BENCH_LOG": str(log)}) as app:
            chat = asyncio.run(chat_probe.probe_chat(app.base_url, random.Random(repeat)))
            events = asyncio.run(events_probe.probe_events(app.base_url, random.Random(repeat)))
        handed: dict[tuple[str, str], dict[int, int]] = {}
        for line in log.read_text().splitlines():
            kind, key, index, at_ns = line.split()
            handed.setdefault((kind, key), {})[int(index)] = int(at_ns)

        key = hashlib.sha1(f"{chat.solo_prompt}|{chat.delay}".encode()).hexdigest()[:12]
        tokens = bursts(chat.solo.chunks, quiet=chat.delay / 2)
        for index, burst in enumerate(tokens):
            if index in handed.get(("chat", key), {}):
                chat_delays.append(chat.solo.sent_wall + burst.at - handed[("chat", key)][index] / 1e9)
        key = f"{events.interval}:{events.count}:1"
        parsed = sse.parse(events.solo.body)
        arrivals = arrival_at_offsets(events.solo.chunks, [event.end for event in parsed.events])
        for index, at in enumerate(arrivals):
            if index in handed.get(("events", key), {}):
                event_delays.append(events.solo.sent_wall + at - handed[("events", key)][index] / 1e9)
    return {"chat_tokens": percentiles(chat_delays), "sse_events": percentiles(event_delays)}


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
                flips += [{"app": name, "run": repeat + 1, "check": check, "unloaded": status, "loaded": verdicts.get(check)}
                          for check, status in unloaded[name].items() if verdicts.get(check) != status]  # fmt: skip
    return {"apps": names, "runs_per_app": repeats, "verdicts": sum(len(v) for v in unloaded.values()) * repeats,
            "flips": flips}  # fmt: skip


def measure_memory(sizes_mib: list[int]) -> dict:
    rows = []
    for size in sizes_mib:
        target = resolve_target(str(APPS / "allocate.py"))
        with running_app(target, env={"STREAMGRADE_BENCH_ALLOCATE_MIB": str(size)}) as app:

            async def fetch():
                async with local_client(app.base_url, 30) as client:
                    return await bigfile_probe.download(client, app.pid, give_up_after=lambda: 30.0)

            download = asyncio.run(fetch())
        measured = download.memory.growth / 2**20 if download.memory else float("nan")
        error = measured - size
        rows.append({"allocated_mib": size, "measured_mib": round(measured, 2), "error_mib": round(error, 2),
                     "error_share": round(error / size, 3),
                     "within_target": abs(error) <= max(2.0, 0.1 * size)})  # fmt: skip
    return {"runs": rows}


def print_table(report: dict) -> None:
    latency = report["latency"]
    print(f"Latency (median of {latency['runs']}; floor {latency['floor']['total']} s)")
    for row in latency["apps"]:
        print(f"  {row['app']:<28} {row['median']:>6.2f} s  (min {row['min']:.2f}, max {row['max']:.2f})  "
              f"{row['ratio_to_floor']:.2f}x floor")  # fmt: skip
    print(f"Batch ({report['batch']['submissions']} submissions)")
    for row in report["batch"]["runs"]:
        default = " (the default)" if row["jobs"] == report["batch"].get("default_jobs") else ""
        print(f"  -j {row['jobs']}: {row['seconds']:>6.1f} s  {row['per_minute']:>5.1f}/min  "
              f"verdicts differing from -j 1: {row['verdicts_differing_from_j1']}{default}")  # fmt: skip
    print("Timing precision (grader's arrival minus the app's hand-off)")
    for kind, row in report["precision"].items():
        print(f"  {kind:<12} n={row.get('count', 0)}  p50 {row.get('p50_ms')} ms  p95 {row.get('p95_ms')} ms  "
              f"max {row.get('max_ms')} ms")  # fmt: skip
    stability = report["stability"]
    print(f"Stability under load: {len(stability['flips'])} flips in {stability['verdicts']} verdicts")
    print("Memory accuracy")
    for row in report["memory"]["runs"]:
        print(f"  allocated {row['allocated_mib']} MiB, measured {row['measured_mib']} MiB "
              f"(error {row['error_mib']:+} MiB, {'within' if row['within_target'] else 'OUTSIDE'} target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    with tempfile.TemporaryDirectory(prefix="streamgrade-bench-") as scratch:
        work = Path(scratch)
        if args.quick:
            report = {
                "latency": measure_latency(1, ["reference"], work),
                "batch": measure_batch(4, [1, 2], work),
                "precision": measure_precision(1, work),
                "stability": measure_stability(1, ["reference"], work),
                "memory": measure_memory([64]),
            }
        else:
            report = {
                "latency": measure_latency(5, LATENCY_APPS, work),
                "batch": measure_batch(40, sorted({1, 2, 4, DEFAULT_JOBS}), work),
                "precision": measure_precision(5, work),
                "stability": measure_stability(10, STABILITY_APPS, work),
                "memory": measure_memory([32, 64, 128]),
            }
    report["quick"] = args.quick
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print_table(report)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {args.json}")


if __name__ == "__main__":
    main()
