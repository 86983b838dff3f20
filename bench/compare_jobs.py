"""Do timing verdicts at -j N equal those at -j 1? Grades the test bank both ways.

    python bench/compare_jobs.py [--jobs 2] [--work /tmp/streamgrade-jobs]

Prints, per -j, the wall time and submissions per minute, and every check
whose status differs from the -j 1 run. This is a measurement, not a test:
it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "tests" / "bank"


def make_class(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for app in sorted(BANK.glob("*.py")):
        if app.name.startswith(("broken_", "correct_", "chat_", "bigfile_", "events_")):
            shutil.copyfile(app, folder / app.name)
            count += 1
    return count


def grade(submissions: Path, out: Path, jobs: int) -> tuple[float, dict[str, dict[str, str]]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "-j", str(jobs), "--force"]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    verdicts = {}
    for results in sorted(out.glob("*/results.json")):
        data = json.loads(results.read_text())
        verdicts[results.parent.name] = {check["id"]: check["status"] for check in data["checks"]}
    return seconds, verdicts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--work", default="/tmp/streamgrade-jobs")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    count = make_class(work / "submissions")
    baseline_seconds, baseline = grade(work / "submissions", work / "out-j1", 1)
    report = {"submissions": count, "runs": [{"jobs": 1, "seconds": round(baseline_seconds, 1),
                                               "per_minute": round(count / baseline_seconds * 60, 1), "differences": []}]}
    for jobs in args.jobs:
        seconds, verdicts = grade(work / "submissions", work / f"out-j{jobs}", jobs)
        differences = [
            {"submission": name, "check": check, "j1": status, f"j{jobs}": verdicts.get(name, {}).get(check)}
            for name, checks in baseline.items() for check, status in checks.items()
            if verdicts.get(name, {}).get(check) != status
        ]
        report["runs"].append({"jobs": jobs, "seconds": round(seconds, 1),
                               "per_minute": round(count / seconds * 60, 1), "differences": differences})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
