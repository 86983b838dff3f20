"""Read a process's memory and CPU figures from Linux's /proc.

The grader measures the learner's server from outside: nothing here runs in
the server process, so nothing the server does can fake these numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MemorySample:
    """Resident memory in bytes: now (VmRSS) and the peak since the last reset (VmHWM)."""

    rss: int
    peak: int


def read_memory(pid: int) -> MemorySample:
    """Current and peak resident memory of ``pid``; raises OSError if it is gone."""
    fields: dict[str, int] = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024  # the kernel reports kB
    if len(fields) < 2:  # a process that exited and is not reaped yet has no memory left
        raise ProcessLookupError(f"process {pid} has exited")
    return MemorySample(rss=fields["VmRSS"], peak=fields["VmHWM"])


def reset_peak_memory(pid: int) -> bool:
    """Reset VmHWM to the current RSS by writing 5 to clear_refs.

    Returns False where the kernel or our privileges don't allow it; the
    caller then measures growth from the sample taken before instead.
    """
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """CPU time the threads of ``pid`` have used so far, in seconds.

    Summed from each thread's schedstat, which counts nanoseconds: the
    utime/stime of /proc/PID/stat count 10 ms clock ticks, too coarse for
    the short quiet windows the grader measures. Falls back to them where
    schedstat is missing. Time of threads that already exited drops out of
    the sum, so compare two readings with ``max(0, after - before)``.
    """
    if (PROC / str(pid) / "schedstat").exists():
        total_ns = 0
        for task in (PROC / str(pid) / "task").iterdir():
            try:
                total_ns += int((task / "schedstat").read_text().split()[0])
            except OSError:
                continue  # the thread exited while we were reading
        return total_ns / 1e9
    stat = (PROC / str(pid) / "stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after
    # its closing parenthesis. utime and stime are fields 14 and 15.
    after_name = stat[stat.rindex(")") + 2 :].split()
    return (int(after_name[11]) + int(after_name[12])) / CLOCK_TICKS_PER_SECOND
